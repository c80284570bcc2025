package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/faultline-dev/faultline/histories"
)

// clock says how to read a history's times: nanoseconds on the controller's
// monotonic clock, or positions in the file for formats that carry no time
// (Jepsen log lines get their line number as time).
type clock struct {
	positions bool
}

// fmtTime formats t (relative to the start of the history).
func (c clock) fmtTime(t int64) string {
	if c.positions {
		return "position " + strconv.FormatInt(t, 10)
	}
	return fmtSeconds(float64(t) / 1e9)
}

// fmtDur formats a duration (a latency, a recovery time).
func (c clock) fmtDur(d int64) string {
	if c.positions {
		if d == 1 {
			return "1 position"
		}
		return strconv.FormatInt(d, 10) + " positions"
	}
	return fmtNanos(float64(d))
}

// axisName names the time axis.
func (c clock) axisName() string {
	if c.positions {
		return "position in the history"
	}
	return "time since the start of the test"
}

func fmtSeconds(s float64) string {
	switch a := math.Abs(s); {
	case a == 0:
		return "0 s"
	case a < 1:
		return fmtNanos(s * 1e9)
	case a < 10:
		return trimFloat(s, 2) + " s"
	case a < 600:
		return trimFloat(s, 1) + " s"
	default:
		m := int(s / 60)
		return fmt.Sprintf("%dm%02.0fs", m, s-float64(m*60))
	}
}

// fmtNanos formats a duration in ns with a unit that keeps 2–3 significant digits.
func fmtNanos(ns float64) string {
	a := math.Abs(ns)
	switch {
	case a == 0:
		return "0"
	case a < 1e3:
		return trimFloat(ns, 0) + " ns"
	case a < 1e6:
		return sig(ns/1e3) + " µs"
	case a < 1e9:
		return sig(ns/1e6) + " ms"
	default:
		return sig(ns/1e9) + " s"
	}
}

func sig(x float64) string {
	switch a := math.Abs(x); {
	case a < 10:
		return trimFloat(x, 2)
	case a < 100:
		return trimFloat(x, 1)
	default:
		return trimFloat(x, 0)
	}
}

func trimFloat(x float64, prec int) string {
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if prec > 0 {
		for s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
		if s[len(s)-1] == '.' {
			s = s[:len(s)-1]
		}
	}
	return s
}

func pct(num, den int) string {
	if den == 0 {
		return "—"
	}
	p := 100 * float64(num) / float64(den)
	if p > 99.9 && num < den {
		return "99.9%"
	}
	if p < 0.1 && num > 0 {
		return "0.1%"
	}
	return trimFloat(p, 1) + "%"
}

// opRec is one client operation, paired.
type opRec struct {
	inv, comp  int   // positions in the history; comp is histories.Open if it never completed
	start, end int64 // times relative to the start; end is the end of the history when open
	outcome    histories.Type
	lane       int // timeline row
}

func (o *opRec) latency() int64 { return o.end - o.start }

// analysis is what every section draws from: the history's client ops
// paired, its fault windows, and its time frame.
type analysis struct {
	h       histories.History
	ops     []opRec
	pairErr error // the history could not be paired: no per-op plots
	clock   clock
	origin  int64 // the history's first time; every time shown is relative to it
	span    int64 // the last time minus the first
	counts  [histories.Info + 1]int
	procs   int
	lanes   int
	laneOf  []histories.Process // first process of each lane
	faults  []fault
	events  []nemesisEvent // nemesis ops that open no window (kill, a lone stop…)
	// nodesKnown caches hasNodes: 0 not yet computed, 1 yes, -1 no.
	nodesKnown int
}

func analyze(h histories.History) *analysis {
	a := &analysis{h: h}
	if len(h) == 0 {
		return a
	}
	a.clock = detectClock(h)
	a.origin, a.span = h[0].Time, 0
	for i := range h {
		a.origin = min(a.origin, h[i].Time)
	}
	for i := range h {
		a.span = max(a.span, h[i].Time-a.origin)
	}
	pairs, err := histories.Pairs(h, "")
	if err != nil {
		a.pairErr = err
	} else {
		a.ops = make([]opRec, len(pairs))
		for i, p := range pairs {
			o := &a.ops[i]
			o.inv, o.comp = p.Invoke, p.Complete
			o.start = h[p.Invoke].Time - a.origin
			o.outcome = h.Outcome(p)
			if p.Complete == histories.Open {
				o.end = a.span
			} else {
				o.end = h[p.Complete].Time - a.origin
			}
			if o.end < o.start {
				o.end = o.start
			}
			a.counts[o.outcome]++
		}
		a.assignLanes()
	}
	a.faults, a.events = faultWindows(h, a.origin, a.span)
	return a
}

// detectClock: a history whose times are its line numbers, or too small to
// be nanoseconds of a real test, is measured in positions.
func detectClock(h histories.History) clock {
	lines := true
	var maxT int64
	for i := range h {
		if h[i].Line == 0 || h[i].Time != int64(h[i].Line) {
			lines = false
		}
		maxT = max(maxT, h[i].Time)
	}
	return clock{positions: lines || maxT <= int64(10*len(h))}
}

// assignLanes packs processes into timeline rows: a process retired after an
// info op is continued by a new process of the same worker, so a row is
// reused by the first process that starts after its last one ended. Rows
// keep the reader's eye on a handful of workers rather than hundreds of
// process ids.
func (a *analysis) assignLanes() {
	type span struct {
		p          histories.Process
		first, end int64
		ops        []int
	}
	byProc := map[histories.Process]*span{}
	var spans []*span
	for i := range a.ops {
		o := &a.ops[i]
		p := a.h[o.inv].Process
		s := byProc[p]
		if s == nil {
			s = &span{p: p, first: o.start}
			byProc[p] = s
			spans = append(spans, s)
		}
		s.end = max(s.end, o.end)
		s.ops = append(s.ops, i)
	}
	a.procs = len(spans)
	sort.SliceStable(spans, func(i, j int) bool {
		if spans[i].first != spans[j].first {
			return spans[i].first < spans[j].first
		}
		return spans[i].p < spans[j].p
	})
	var laneEnd []int64
	for _, s := range spans {
		lane := -1
		for l, e := range laneEnd {
			if e < s.first {
				lane = l
				break
			}
		}
		if lane < 0 {
			lane = len(laneEnd)
			laneEnd = append(laneEnd, 0)
			a.laneOf = append(a.laneOf, s.p)
		}
		laneEnd[lane] = s.end
		for _, i := range s.ops {
			a.ops[i].lane = lane
		}
	}
	a.lanes = len(laneEnd)
}

// clientOps is the number of client operations (paired).
func (a *analysis) clientOps() int { return len(a.ops) }

// isRead says how many reads an op attempts: 1 for a read/get, the number of
// read micro-ops of a transaction, 0 otherwise.
func readsOf(op *histories.Op) int {
	switch op.F {
	case "read", "get", "r":
		return 1
	case "txn":
		mops, _ := op.Value.([]any)
		n := 0
		for _, m := range mops {
			if mop, ok := m.([]any); ok && len(mop) > 0 {
				if f, _ := mop[0].(string); f == "r" || f == "read" {
					n++
				}
			}
		}
		return n
	}
	return 0
}
