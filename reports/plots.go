package reports

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/faultline-dev/faultline/histories"
)

// plot is one drawn figure and what the page says about it.
type plot struct {
	SVG  string
	Note string // e.g. how it was downsampled; empty when every op is drawn
}

// Budgets bound what one plot draws, so that a million-op history makes a
// page a browser opens (the figures are what grows with the history).
const (
	defaultPointBudget    = 20000 // latency points
	defaultTimelineBudget = 3000  // timeline bars
	pointsWithTooltips    = 4000  // above this, points are drawn as one path per outcome
	maxLanes              = 120
)

// sample picks at most budget of ops (indexes into a.ops)
// deterministically, by taking every k-th. Rare ops (failed and unknown:
// what a reader looks for) are all kept when they are few (up to a quarter
// of the budget), so a handful of failures never vanish; when they are
// many, everything is thinned alike, so the density shown stays honest.
func sample(idx []int, isRare func(int) bool, budget int) (out []int, sampled bool) {
	if len(idx) <= budget {
		return idx, false
	}
	var rare, common []int
	for _, i := range idx {
		if isRare(i) {
			rare = append(rare, i)
		} else {
			common = append(common, i)
		}
	}
	if len(rare) > budget/4 {
		return stride(idx, budget), true
	}
	out = append(rare, stride(common, budget-len(rare))...)
	slices.Sort(out)
	return out, true
}

func stride(idx []int, n int) []int {
	if len(idx) <= n {
		return idx
	}
	if n <= 0 {
		return nil
	}
	out := make([]int, 0, n)
	step := float64(len(idx)) / float64(n)
	for k := 0; k < n; k++ {
		out = append(out, idx[int(float64(k)*step)])
	}
	return out
}

func (a *analysis) xScale(fr frame) scale {
	return scale{d0: 0, d1: math.Max(float64(a.span), 1), p0: fr.x0(), p1: fr.x1()}
}

// describeOp is an op's tooltip: who, what, how it ended, how long it took.
func (a *analysis) describeOp(o *opRec) string {
	inv := &a.h[o.inv]
	s := "process " + inv.Process.String() + " " + inv.F
	if inv.Key != "" {
		s += " key " + inv.Key
	}
	v := inv.Value
	if o.comp != histories.Open && o.outcome == histories.OK && a.h[o.comp].Value != nil {
		v = a.h[o.comp].Value
	}
	if v != nil {
		s += " " + truncate(histories.FormatValue(v), 80)
	}
	if o.comp == histories.Open {
		s += "\nnever completed (info); invoked at " + a.clock.fmtTime(o.start) + ", index " + strconv.FormatInt(inv.Index, 10)
		return s
	}
	c := &a.h[o.comp]
	s += "\n" + outcomeName(o.outcome) + " after " + a.clock.fmtDur(o.latency()) + " at " + a.clock.fmtTime(o.start)
	if c.Node != "" {
		s += " on " + c.Node
	}
	if c.Error != "" {
		s += "\nerror: " + truncate(c.Error, 80)
	}
	s += "\nindex " + strconv.FormatInt(inv.Index, 10) + "–" + strconv.FormatInt(c.Index, 10)
	return s
}

// latencyPlot draws each completed op as a point (invocation time, latency),
// coloured by outcome, on a log scale, with the p50/p95/p99 of latency over
// time and the fault windows shaded.
func (a *analysis) latencyPlot(budget int, colors map[string]string) plot {
	var done []int
	for i := range a.ops {
		if a.ops[i].comp != histories.Open {
			done = append(done, i)
		}
	}
	if len(done) == 0 {
		return plot{Note: "No operation completed, so there is no latency to plot."}
	}
	idx, sampled := sample(done, func(i int) bool { return a.ops[i].outcome != histories.OK }, budget)
	lo, hi := math.Inf(1), 0.0
	for _, i := range done {
		l := float64(a.ops[i].latency())
		if l > 0 {
			lo = math.Min(lo, l)
		}
		hi = math.Max(hi, l)
	}
	if math.IsInf(lo, 1) {
		lo = 1
	}
	if hi <= lo {
		hi = lo * 10
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}

	fr := newFrame(340)
	x := a.xScale(fr)
	y := scale{d0: lo, d1: hi, p0: fr.y0(), p1: fr.y1(), log: true}
	var s svg
	s.open(fr.W, fr.H, "plot", "latency of each operation over time")
	s.faultBands(fr, x, a.faults, a.events, colors, a.clock)
	s.timeAxis(fr, x, a.clock)
	s.line(fr.x0(), fr.y1(), fr.x0(), fr.y0(), `class="axis"`)
	for _, v := range logTicks(lo, hi) {
		py := y.at(v)
		s.line(fr.x0()-4, py, fr.x0(), py, `class="axis"`)
		s.line(fr.x0(), py, fr.x1(), py, `class="grid"`)
		s.label(fr.x0()-7, py+4, "end", "tick", a.clock.fmtDur(int64(v)))
	}
	s.raw(`<text transform="translate(14,`).f((fr.y0() + fr.y1()) / 2).raw(`) rotate(-90)" text-anchor="middle" class="axis-title">latency (log scale)</text>`)

	// Points: with few enough, each is a circle with its op as tooltip;
	// beyond that, one path per outcome (a dot is "M x y h0").
	order := []histories.Type{histories.OK, histories.Fail, histories.Info}
	if len(idx) <= pointsWithTooltips {
		s.raw(`<g class="points">`)
		for _, t := range order {
			for _, i := range idx {
				o := &a.ops[i]
				if o.outcome != t {
					continue
				}
				s.raw(`<circle cx="`).f(x.at(float64(o.start))).raw(`" cy="`).f(y.at(math.Max(float64(o.latency()), lo))).
					raw(`" r="2.6" fill="` + outcomeColor(t) + `"><title>`).text(a.describeOp(o)).raw("</title></circle>")
			}
		}
		s.raw("</g>")
	} else {
		for _, t := range order {
			s.raw(`<path class="points" stroke="` + outcomeColor(t) + `" stroke-width="3.2" stroke-linecap="round" fill="none" d="`)
			for _, i := range idx {
				o := &a.ops[i]
				if o.outcome != t {
					continue
				}
				s.raw("M").f(x.at(float64(o.start))).raw(" ").f(y.at(math.Max(float64(o.latency()), lo))).raw("h0")
			}
			s.raw(`"/>`)
		}
	}

	// Quantiles of ok and fail latencies (an info op's latency is its
	// timeout) in time buckets, from every op, not the sample.
	nb := bucketsFor(len(done))
	width := math.Max(float64(a.span), 1) / float64(nb)
	buckets := make([][]float64, nb)
	for _, i := range done {
		o := &a.ops[i]
		if o.outcome == histories.Info {
			continue
		}
		b := min(int(float64(o.start)/width), nb-1)
		buckets[b] = append(buckets[b], float64(o.latency()))
	}
	quantiles := []struct {
		q     float64
		label string
		color string
		dash  string
	}{{0.5, "p50", "#1d3557", ""}, {0.95, "p95", "#6a4c93", "6,3"}, {0.99, "p99", "#b5179e", "2,3"}}
	for _, q := range quantiles {
		s.raw(`<path fill="none" stroke="` + q.color + `" stroke-width="2" stroke-dasharray="` + q.dash + `" d="`)
		pen := "M"
		for b, vals := range buckets {
			if len(vals) == 0 {
				pen = "M"
				continue
			}
			slices.Sort(vals)
			v := vals[min(len(vals)-1, int(q.q*float64(len(vals))))]
			s.raw(pen).f(x.at((float64(b) + 0.5) * width)).raw(" ").f(y.at(math.Max(v, lo)))
			pen = "L"
		}
		s.raw(`"><title>`).text(q.label + " latency per " + a.clock.fmtDur(int64(width)) + " of invocations (ok and fail ops)").raw("</title></path>")
	}
	legend := outcomeLegend("dot")
	for _, q := range quantiles {
		kind := "line"
		if q.dash != "" {
			kind = "dash"
		}
		legend = append(legend, legendItem{Label: q.label, Color: q.color, Kind: kind})
	}
	s.legend(fr, append(legend, faultLegend(a.faults, a.events, colors)...))
	s.close()

	p := plot{SVG: s.b.String()}
	open := a.clientOps() - len(done)
	if sampled {
		p.Note = fmt.Sprintf("Downsampled: %d of %d completed operations are drawn (every k-th op, in history order; failed and unknown ops are all kept when they are few); the quantile lines and the table use all of them.", len(idx), len(done))
	}
	if open > 0 {
		p.Note = joinNote(p.Note, fmt.Sprintf("%d operations never completed and have no latency.", open))
	}
	return p
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// bucketsFor picks how many time buckets aggregate n ops: enough to see
// change, few enough that each bucket holds a meaningful sample.
func bucketsFor(n int) int {
	switch {
	case n < 200:
		return max(4, n/10)
	case n < 10000:
		return 40
	default:
		return 100
	}
}

// throughputPlot draws completions per second over time by outcome.
func (a *analysis) throughputPlot(colors map[string]string) plot {
	if a.clientOps() == 0 {
		return plot{Note: "No client operations."}
	}
	nb := bucketsFor(a.clientOps())
	width := math.Max(float64(a.span), 1) / float64(nb)
	counts := make([][3]int, nb)
	for i := range a.ops {
		o := &a.ops[i]
		b := min(int(float64(o.end)/width), nb-1)
		switch {
		case o.comp == histories.Open:
			continue // never completed: no completion to count
		case o.outcome == histories.OK:
			counts[b][0]++
		case o.outcome == histories.Fail:
			counts[b][1]++
		default:
			counts[b][2]++
		}
	}
	per := 1.0 // rate unit: per second, or per bucket for positions
	yTitle := "ops per " + a.clock.fmtDur(int64(width))
	if !a.clock.positions {
		per = width / 1e9
		yTitle = "ops/s"
	}
	hi := 1.0
	for _, c := range counts {
		for _, v := range c {
			hi = math.Max(hi, float64(v)/per)
		}
	}
	fr := newFrame(260)
	x := a.xScale(fr)
	ticks := niceTicks(0, hi*1.05, 5)
	top := math.Max(ticks[len(ticks)-1], hi)
	y := scale{d0: 0, d1: top, p0: fr.y0(), p1: fr.y1()}
	var s svg
	s.open(fr.W, fr.H, "plot", "throughput over time")
	s.faultBands(fr, x, a.faults, a.events, colors, a.clock)
	s.timeAxis(fr, x, a.clock)
	s.line(fr.x0(), fr.y1(), fr.x0(), fr.y0(), `class="axis"`)
	for _, v := range ticks {
		py := y.at(v)
		s.line(fr.x0()-4, py, fr.x0(), py, `class="axis"`)
		s.line(fr.x0(), py, fr.x1(), py, `class="grid"`)
		s.label(fr.x0()-7, py+4, "end", "tick", trimFloat(v, 1))
	}
	s.raw(`<text transform="translate(14,`).f((fr.y0() + fr.y1()) / 2).raw(`) rotate(-90)" text-anchor="middle" class="axis-title">`).text(yTitle).raw(`</text>`)
	names := []string{"ok", "fail", "info"}
	cols := []string{colorOK, colorFail, colorInfo}
	for k := range 3 {
		s.raw(`<path fill="none" stroke="` + cols[k] + `" stroke-width="2" stroke-linejoin="round" d="`)
		for b, c := range counts {
			px0, px1 := x.at(float64(b)*width), x.at(float64(b+1)*width)
			py := y.at(float64(c[k]) / per)
			if b == 0 {
				s.raw("M").f(px0).raw(" ").f(py)
			} else {
				s.raw("V").f(py)
			}
			s.raw("H").f(px1)
		}
		s.raw(`"/>`)
	}
	// Invisible hover targets per bucket with the numbers.
	for b, c := range counts {
		px0, px1 := x.at(float64(b)*width), x.at(float64(b+1)*width)
		t := fmt.Sprintf("%s – %s\nok %d, fail %d, info %d", a.clock.fmtTime(int64(float64(b)*width)), a.clock.fmtTime(int64(float64(b+1)*width)), c[0], c[1], c[2])
		s.rect(px0, fr.y1(), px1-px0, fr.y0()-fr.y1(), `fill="transparent" class="hover"`, t)
	}
	legend := []legendItem{}
	for k := range 3 {
		legend = append(legend, legendItem{Label: names[k], Color: cols[k], Kind: "line"})
	}
	s.legend(fr, append(legend, faultLegend(a.faults, a.events, colors)...))
	s.close()
	p := plot{SVG: s.b.String()}
	if a.clock.positions {
		p.Note = "This history has no timestamps (a Jepsen log): its time axis is the position of each line, so throughput is counted per bucket of positions, not per second."
	}
	return p
}

// timelinePlot draws each op as a bar from invocation to completion, one
// row per worker (a process and the processes that continued it after an
// info op). Beyond the budget it draws a contiguous slice of the history
// around focus (the first anomaly, or the first fault) and says so.
//
// Ops in highlight (by the history index of their invocation or
// completion: the ops an anomaly names) are outlined.
func (a *analysis) timelinePlot(budget int, focus int64, highlight map[int64]bool, colors map[string]string) plot {
	if a.clientOps() == 0 {
		return plot{Note: "No client operations."}
	}
	lo, hi := 0, len(a.ops)
	note := ""
	if len(a.ops) > budget {
		c := 0
		if focus >= 0 {
			c = min(a.firstOpAt(focus), len(a.ops)-1)
		}
		lo = max(0, c-budget/3)
		hi = min(len(a.ops), lo+budget)
		lo = max(0, hi-budget)
		note = fmt.Sprintf("Showing %d of %d operations: those invoked between %s and %s", hi-lo, len(a.ops), a.clock.fmtTime(a.ops[lo].start), a.clock.fmtTime(a.ops[hi-1].start))
		if focus >= 0 {
			note += ", around the first anomaly or fault"
		}
		note += ". The latency and throughput plots cover the whole history."
	}
	t0, t1 := a.ops[lo].start, int64(0)
	lanesUsed := map[int]bool{}
	for i := lo; i < hi; i++ {
		t1 = max(t1, a.ops[i].end)
		lanesUsed[a.ops[i].lane] = true
	}
	if lo == 0 && hi == len(a.ops) {
		t0, t1 = 0, max(a.span, 1)
	}
	if t1 <= t0 {
		t1 = t0 + 1
	}
	lanes := make([]int, 0, len(lanesUsed))
	for l := range lanesUsed {
		lanes = append(lanes, l)
	}
	slices.Sort(lanes)
	if len(lanes) > maxLanes {
		note = joinNote(note, fmt.Sprintf("Only the first %d of %d worker rows are drawn.", maxLanes, len(lanes)))
		lanes = lanes[:maxLanes]
	}
	row := map[int]int{}
	for r, l := range lanes {
		row[l] = r
	}
	rowH := math.Max(4, math.Min(20, 520/float64(len(lanes))))
	fr := newFrame(float64(len(lanes))*rowH + 48 + 40)
	fr.Top = 48 // room for the fault windows' names above the rows
	x := scale{d0: float64(t0), d1: float64(t1), p0: fr.x0(), p1: fr.x1()}
	var s svg
	s.open(fr.W, fr.H, "plot timeline", "timeline of operations per process")
	var inView []fault
	for _, f := range a.faults {
		if f.End >= t0 && f.Start <= t1 {
			f.Start, f.End = max(f.Start, t0), min(f.End, t1)
			inView = append(inView, f)
		}
	}
	var evView []nemesisEvent
	for _, e := range a.events {
		if e.Time >= t0 && e.Time <= t1 {
			evView = append(evView, e)
		}
	}
	s.faultBandsAt(fr, x, inView, evView, colors, a.clock, fr.y1()-4)
	s.timeAxis(fr, x, a.clock)
	for r, l := range lanes {
		py := fr.y1() + float64(r)*rowH
		if r%2 == 1 {
			s.rect(fr.x0(), py, fr.x1()-fr.x0(), rowH, `class="lane-alt"`, "")
		}
		if rowH >= 9 {
			s.label(fr.x0()-6, py+rowH/2+4, "end", "tick", "p"+a.laneOf[l].String())
		}
	}
	s.raw(`<text transform="translate(14,`).f((fr.y0() + fr.y1()) / 2).raw(`) rotate(-90)" text-anchor="middle" class="axis-title">process</text>`)
	for i := lo; i < hi; i++ {
		o := &a.ops[i]
		r, ok := row[o.lane]
		if !ok {
			continue
		}
		x0, x1 := x.at(float64(o.start)), x.at(float64(o.end))
		attrs := `fill="` + outcomeColor(o.outcome) + `"`
		if o.comp == histories.Open {
			attrs += ` fill-opacity="0.35"`
		}
		marked := highlight[a.h[o.inv].Index] || (o.comp != histories.Open && highlight[a.h[o.comp].Index])
		if marked {
			attrs += ` stroke="#111" stroke-width="2"`
		}
		s.rect(x0, fr.y1()+float64(r)*rowH+1, math.Max(x1-x0, 1.5), rowH-2, attrs, a.describeOp(o))
		if marked {
			s.raw(`<path d="M`).f(x0).raw(" ").f(fr.y1() + float64(r)*rowH - 1).raw(`l-5 -8h10z" fill="#111"/>`)
		}
	}
	s.faultOverlay(fr, x, inView, colors)
	legend := outcomeLegend("bar")
	if len(highlight) > 0 {
		legend = append(legend, legendItem{Label: "in an anomaly (outlined, ▼)", Color: "#111", Kind: "dash"})
	}
	s.legend(fr, append(legend, faultLegend(inView, evView, colors)...))
	s.close()
	if a.procs > len(lanes) && a.procs > 0 {
		note = joinNote(note, fmt.Sprintf("%d processes share %d rows: a process retired after an info op is continued by a new one on its worker's row; rows are labelled with their first process.", a.procs, a.lanes))
	}
	return plot{SVG: s.b.String(), Note: note}
}
