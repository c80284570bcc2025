package reports

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/histories"
)

// svg is a small SVG writer: the report's plots are a few kinds of marks,
// written straight into a buffer (a million-op history must not build a DOM).
type svg struct {
	b bytes.Buffer
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

func esc(s string) string { return xmlEscaper.Replace(s) }

func (s *svg) raw(str string) *svg { s.b.WriteString(str); return s }

// f appends a coordinate with one decimal, the precision a screen needs.
func (s *svg) f(x float64) *svg {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = 0
	}
	s.b.Write(strconv.AppendFloat(s.b.AvailableBuffer(), math.Round(x*10)/10, 'f', -1, 64))
	return s
}

func (s *svg) text(str string) *svg { s.b.WriteString(esc(str)); return s }

func (s *svg) open(w, h float64, class, label string) {
	s.raw(`<svg xmlns="http://www.w3.org/2000/svg" class="`).text(class).raw(`" viewBox="0 0 `).f(w).raw(" ").f(h).
		raw(`" width="`).f(w).raw(`" role="img" aria-label="`).text(label).raw(`" preserveAspectRatio="xMinYMin meet">`)
}

func (s *svg) close() { s.raw("</svg>") }

func (s *svg) rect(x, y, w, h float64, attrs string, title string) {
	s.raw(`<rect x="`).f(x).raw(`" y="`).f(y).raw(`" width="`).f(math.Max(w, 0)).raw(`" height="`).f(math.Max(h, 0)).raw(`" `).raw(attrs)
	if title == "" {
		s.raw("/>")
		return
	}
	s.raw("><title>").text(title).raw("</title></rect>")
}

func (s *svg) line(x1, y1, x2, y2 float64, attrs string) {
	s.raw(`<line x1="`).f(x1).raw(`" y1="`).f(y1).raw(`" x2="`).f(x2).raw(`" y2="`).f(y2).raw(`" `).raw(attrs).raw("/>")
}

func (s *svg) label(x, y float64, anchor, class, str string) {
	s.raw(`<text x="`).f(x).raw(`" y="`).f(y).raw(`" text-anchor="`).raw(anchor).raw(`" class="`).raw(class).raw(`">`).text(str).raw("</text>")
}

// Outcome colours, shared by every plot and the page's CSS.
const (
	colorOK   = "#2a9d8f"
	colorFail = "#e63946"
	colorInfo = "#f4a261"
)

func outcomeColor(t histories.Type) string {
	switch t {
	case histories.OK:
		return colorOK
	case histories.Fail:
		return colorFail
	default:
		return colorInfo
	}
}

func outcomeName(t histories.Type) string {
	if t == histories.Invoke { // never completed
		return "info"
	}
	return t.String()
}

// scale maps a data interval onto a pixel interval, linearly or on log10.
type scale struct {
	d0, d1 float64
	p0, p1 float64
	log    bool
}

func (sc scale) at(v float64) float64 {
	d0, d1 := sc.d0, sc.d1
	if sc.log {
		v = math.Log10(math.Max(v, sc.d0))
		d0, d1 = math.Log10(d0), math.Log10(d1)
	}
	if d1 == d0 {
		return sc.p0
	}
	return sc.p0 + (v-d0)/(d1-d0)*(sc.p1-sc.p0)
}

// niceTicks returns about n round values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

// logTicks are the powers of ten within [lo, hi] (lo > 0).
func logTicks(lo, hi float64) []float64 {
	var out []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		if v >= lo*0.999 && v <= hi*1.001 {
			out = append(out, v)
		}
	}
	if len(out) < 2 {
		return []float64{lo, hi}
	}
	return out
}

// frame is a plot's geometry: the SVG size and the plotting area inside it.
type frame struct {
	W, H                     float64
	Left, Right, Top, Bottom float64
}

func newFrame(h float64) frame {
	return frame{W: 960, H: h, Left: 72, Right: 16, Top: 34, Bottom: 40}
}

func (f frame) x0() float64 { return f.Left }
func (f frame) x1() float64 { return f.W - f.Right }
func (f frame) y0() float64 { return f.H - f.Bottom } // bottom of the plot area
func (f frame) y1() float64 { return f.Top }

// timeAxis draws the x axis of time (relative to the history's start).
func (s *svg) timeAxis(fr frame, x scale, c clock) {
	s.line(fr.x0(), fr.y0(), fr.x1(), fr.y0(), `class="axis"`)
	lo, hi := x.d0, x.d1
	unit := 1.0
	if !c.positions {
		unit = 1e9
	}
	for _, v := range niceTicks(lo/unit, hi/unit, 8) {
		px := x.at(v * unit)
		s.line(px, fr.y0(), px, fr.y0()+4, `class="axis"`)
		s.line(px, fr.y1(), px, fr.y0(), `class="grid"`)
		lbl := trimFloat(v, 3)
		if !c.positions {
			lbl += " s"
		}
		s.label(px, fr.y0()+16, "middle", "tick", lbl)
	}
	s.label((fr.x0()+fr.x1())/2, fr.H-4, "middle", "axis-title", c.axisName())
}

// faultBands shades each fault window over the plot area and names it at
// the top; a window nothing healed is drawn with a ragged (dashed) end.
func (s *svg) faultBands(fr frame, x scale, faults []fault, events []nemesisEvent, colors map[string]string, c clock) {
	s.faultBandsAt(fr, x, faults, events, colors, c, fr.y1()+11)
}

// faultOverlay draws the windows again over a plot's marks, faintly and
// transparent to the mouse, for plots whose marks would hide the bands.
func (s *svg) faultOverlay(fr frame, x scale, faults []fault, colors map[string]string) {
	for _, f := range faults {
		x0, x1 := x.at(float64(f.Start)), x.at(float64(f.End))
		col := colors[f.Name]
		s.rect(x0, fr.y1(), math.Max(x1-x0, 1), fr.y0()-fr.y1(), `fill="`+col+`" fill-opacity="0.22" pointer-events="none"`, "")
		s.line(x0, fr.y1()-12, x0, fr.y0(), `stroke="`+col+`" stroke-width="1.5" pointer-events="none"`)
		if f.Healed {
			s.line(x1, fr.y1()-12, x1, fr.y0(), `stroke="`+col+`" stroke-width="1.5" pointer-events="none"`)
		}
	}
}

// faultBandsAt is faultBands with the windows' names at labelY.
func (s *svg) faultBandsAt(fr frame, x scale, faults []fault, events []nemesisEvent, colors map[string]string, c clock, labelY float64) {
	for _, f := range faults {
		x0, x1 := x.at(float64(f.Start)), x.at(float64(f.End))
		if x1-x0 < 1 {
			x1 = x0 + 1
		}
		col := colors[f.Name]
		end := "healed at " + c.fmtTime(f.End)
		if !f.Healed {
			end = "never healed"
		}
		title := f.Name + " from " + c.fmtTime(f.Start) + ", " + end
		if f.Detail != "" {
			title += "\n" + f.Detail
		}
		s.raw(`<g class="fault">`)
		s.rect(x0, fr.y1(), x1-x0, fr.y0()-fr.y1(), `fill="`+col+`" fill-opacity="0.13"`, title)
		s.line(x0, fr.y1(), x0, fr.y0(), `stroke="`+col+`" stroke-opacity="0.6"`)
		if f.Healed {
			s.line(x1, fr.y1(), x1, fr.y0(), `stroke="`+col+`" stroke-opacity="0.6"`)
		}
		if x1-x0 > 30 {
			s.raw(`<text x="`).f(x0 + 3).raw(`" y="`).f(labelY).raw(`" class="band-label" fill="` + col + `">`).text(f.Name).raw("</text>")
		}
		s.raw("</g>")
	}
	for _, e := range events {
		px := x.at(float64(e.Time))
		s.raw(`<g class="fault">`)
		s.line(px, fr.y1(), px, fr.y0(), `stroke="#666" stroke-dasharray="3,3"`)
		s.rect(px-3, fr.y1(), 6, fr.y0()-fr.y1(), `fill="transparent"`, e.F+" at "+c.fmtTime(e.Time)+" "+e.Detail)
		s.raw("</g>")
	}
}

// legendItem is one entry of a plot's legend.
type legendItem struct {
	Label string
	Color string
	Kind  string // "dot", "line", "band", "bar", "dash"
}

// legend draws the entries in a row at the top left of the frame.
func (s *svg) legend(fr frame, items []legendItem) {
	x := fr.x0()
	y := 14.0
	s.raw(`<g class="legend">`)
	for _, it := range items {
		switch it.Kind {
		case "dot":
			s.raw(`<circle cx="`).f(x + 5).raw(`" cy="`).f(y - 4).raw(`" r="4" fill="` + it.Color + `"/>`)
		case "line":
			s.line(x, y-4, x+14, y-4, `stroke="`+it.Color+`" stroke-width="2.5"`)
		case "dash":
			s.line(x, y-4, x+14, y-4, `stroke="`+it.Color+`" stroke-width="2" stroke-dasharray="3,2"`)
		case "band":
			s.rect(x, y-11, 14, 12, `fill="`+it.Color+`" fill-opacity="0.25" stroke="`+it.Color+`"`, "")
		default:
			s.rect(x, y-9, 14, 9, `fill="`+it.Color+`"`, "")
		}
		s.label(x+19, y, "start", "legend-text", it.Label)
		x += 28 + 6.6*float64(len([]rune(it.Label)))
	}
	s.raw("</g>")
}

func outcomeLegend(kind string) []legendItem {
	return []legendItem{
		{Label: "ok", Color: colorOK, Kind: kind},
		{Label: "fail", Color: colorFail, Kind: kind},
		{Label: "info (unknown)", Color: colorInfo, Kind: kind},
	}
}

func faultLegend(faults []fault, events []nemesisEvent, colors map[string]string) []legendItem {
	var out []legendItem
	seen := map[string]bool{}
	for _, f := range faults {
		if !seen[f.Name] {
			seen[f.Name] = true
			out = append(out, legendItem{Label: f.Name + " (fault)", Color: colors[f.Name], Kind: "band"})
		}
	}
	if len(events) > 0 {
		out = append(out, legendItem{Label: "nemesis event", Color: "#666", Kind: "dash"})
	}
	return out
}
