package reports

import (
	"math"
	"strings"
)

// edgeColors are the dependency kinds of Adya's and Elle's graphs.
var edgeColors = map[string]string{
	"ww":       "#1d4ed8", // write-write: a later version overwrote
	"wr":       "#15803d", // write-read: read what was written
	"rw":       "#dc2626", // read-write: an anti-dependency, overwrote what was read
	"realtime": "#6b7280",
	"process":  "#7c3aed",
}

func edgeColor(kind string) string {
	k := strings.ToLower(kind)
	for _, p := range []string{"ww", "wr", "rw"} {
		if strings.HasPrefix(k, p) {
			return edgeColors[p]
		}
	}
	if strings.Contains(k, "realtime") || strings.Contains(k, "real-time") || k == "rt" {
		return edgeColors["realtime"]
	}
	if strings.Contains(k, "process") {
		return edgeColors["process"]
	}
	return "#374151"
}

// edgeMeaning says in words what an edge kind means, for the step table.
func edgeMeaning(kind string) string {
	k := strings.ToLower(kind)
	switch {
	case strings.HasPrefix(k, "ww"):
		return "wrote over (write-write)"
	case strings.HasPrefix(k, "wr"):
		return "was read by (write-read)"
	case strings.HasPrefix(k, "rw"):
		return "read a state that was then overwritten by (read-write, an anti-dependency)"
	case strings.Contains(k, "realtime") || k == "rt":
		return "completed before the invocation of (real time)"
	case strings.Contains(k, "process"):
		return "came before, in the same process,"
	}
	return kind
}

// cycleSVG lays out the transactions of a cycle on a circle, in the order
// the steps visit them, and draws each step as a curved arrow labelled with
// its kind and key. A cycle is a ring, so a circle shows it as one at a
// glance; two opposite edges between the same pair bend to either side.
func cycleSVG(a *anomalyView) string {
	if len(a.Steps) == 0 {
		return ""
	}
	var nodes []string
	pos := map[string]int{}
	add := func(id string) {
		if _, ok := pos[id]; !ok {
			pos[id] = len(nodes)
			nodes = append(nodes, id)
		}
	}
	for _, s := range a.Steps {
		add(s.From)
		add(s.To)
	}
	labels := map[string][2]string{}
	for _, o := range a.Ops {
		head := o.ID
		if o.Process != "" {
			head += " · process " + o.Process
		}
		body := o.Value
		if body == "" {
			body = o.F
		}
		labels[o.ID] = [2]string{head, body}
	}

	const boxW, boxH = 230.0, 46.0
	n := len(nodes)
	// Neighbours on the ring sit far enough apart for an arrow and its
	// label between them.
	r := 130.0
	if n >= 3 {
		r = math.Max(r, (boxW+100)/(2*math.Sin(math.Pi/float64(n))))
	}
	if n == 1 {
		r = 0
	}
	// Place the ring, then fit the drawing to it: margins leave room for
	// the arcs that bow outward and for self-loops above a box.
	xs, ys := make([]float64, n), make([]float64, n)
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i := range n {
		ang := -math.Pi/2 + 2*math.Pi*float64(i)/float64(n)
		xs[i], ys[i] = r*math.Cos(ang), r*math.Sin(ang)
		minX, maxX = math.Min(minX, xs[i]), math.Max(maxX, xs[i])
		minY, maxY = math.Min(minY, ys[i]), math.Max(maxY, ys[i])
	}
	marginX, marginY := boxW/2+70, boxH/2+40
	if n == 1 {
		marginY = boxH/2 + 90
	}
	if n == 2 {
		marginX = boxW/2 + 90
	}
	w := maxX - minX + 2*marginX
	h := maxY - minY + 2*marginY
	at := func(i int) (float64, float64) { return xs[i] - minX + marginX, ys[i] - minY + marginY }
	cx, cy := -minX+marginX, -minY+marginY // the ring's centre

	var s svg
	s.open(w, h, "cycle", "dependency cycle of "+a.Type)
	s.raw(`<defs>`)
	for _, c := range []string{"#1d4ed8", "#15803d", "#dc2626", "#6b7280", "#7c3aed", "#374151"} {
		s.raw(`<marker id="arrow-` + c[1:] + `" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="` + c + `"/></marker>`)
	}
	s.raw(`</defs>`)

	// Edges first, under the boxes.
	for _, st := range a.Steps {
		i, j := pos[st.From], pos[st.To]
		col := edgeColor(st.Edge)
		lbl := st.Edge
		if st.Key != "" {
			lbl += " " + st.Key
		}
		title := st.From + " → " + st.To + ": " + edgeMeaning(st.Edge)
		if st.Explanation != "" {
			title += "\n" + st.Explanation
		}
		s.raw(`<g class="edge">`)
		if i == j {
			x, y := at(i)
			// A self-loop above the box.
			s.raw(`<path fill="none" stroke="` + col + `" stroke-width="2" marker-end="url(#arrow-` + col[1:] + `)" d="M`).
				f(x - 30).raw(" ").f(y - boxH/2).raw(" C").f(x - 60).raw(" ").f(y - boxH/2 - 70).raw(" ").f(x + 60).raw(" ").f(y - boxH/2 - 70).raw(" ").f(x + 30).raw(" ").f(y - boxH/2).
				raw(`"><title>`).text(title).raw(`</title></path>`)
			s.raw(`<text x="`).f(x).raw(`" y="`).f(y - boxH/2 - 58).raw(`" text-anchor="middle" class="edge-label" fill="` + col + `">`).text(lbl).raw(`</text>`)
			s.raw(`</g>`)
			continue
		}
		x1, y1 := at(i)
		x2, y2 := at(j)
		// Control point: off the chord's midpoint, to the left of the
		// direction of travel, and away from the centre for a ring.
		mx, my := (x1+x2)/2, (y1+y2)/2
		dx, dy := x2-x1, y2-y1
		l := math.Hypot(dx, dy)
		bend := 0.22 * l
		if n == 2 {
			bend = 0.35 * l
		}
		px, py := -dy/l, dx/l
		// For a ring drawn clockwise, "left" of travel points outward;
		// keep arcs outside the polygon so labels do not pile up in the middle.
		if (mx-cx)*px+(my-cy)*py < 0 && n > 2 {
			px, py = -px, -py
		}
		qx, qy := mx+px*bend, my+py*bend
		sx, sy := boxExit(x1, y1, boxW, boxH, qx-x1, qy-y1)
		ex, ey := boxExit(x2, y2, boxW, boxH, qx-x2, qy-y2)
		s.raw(`<path fill="none" stroke="` + col + `" stroke-width="2" marker-end="url(#arrow-` + col[1:] + `)" d="M`).
			f(sx).raw(" ").f(sy).raw(" Q").f(qx).raw(" ").f(qy).raw(" ").f(ex).raw(" ").f(ey).
			raw(`"><title>`).text(title).raw(`</title></path>`)
		// The label sits on the curve's midpoint (a quadratic's t=0.5).
		lx, ly := 0.25*sx+0.5*qx+0.25*ex, 0.25*sy+0.5*qy+0.25*ey
		tw := 7.2*float64(len([]rune(lbl))) + 10
		s.rect(lx-tw/2, ly-10, tw, 18, `rx="4" fill="#fff" stroke="`+col+`" stroke-width="1"`, title)
		s.raw(`<text x="`).f(lx).raw(`" y="`).f(ly + 4).raw(`" text-anchor="middle" class="edge-label" fill="` + col + `">`).text(lbl).raw(`</text>`)
		s.raw(`</g>`)
	}
	for i, id := range nodes {
		x, y := at(i)
		lb, ok := labels[id]
		if !ok {
			lb = [2]string{id, ""}
		}
		s.raw(`<g class="txn">`)
		s.rect(x-boxW/2, y-boxH/2, boxW, boxH, `rx="6" class="txn-box"`, lb[0]+"\n"+lb[1])
		s.label(x, y-5, "middle", "txn-head", truncate(lb[0], 34))
		s.label(x, y+13, "middle", "txn-body", truncate(lb[1], 34))
		s.raw(`</g>`)
	}
	s.close()
	return s.b.String()
}

// boxExit is where a ray from a box's centre in direction (dx, dy) leaves
// the box, plus a small gap so an arrowhead does not touch the border.
func boxExit(cx, cy, w, h, dx, dy float64) (float64, float64) {
	if dx == 0 && dy == 0 {
		return cx, cy
	}
	tx, ty := math.Inf(1), math.Inf(1)
	if dx != 0 {
		tx = (w/2 + 3) / math.Abs(dx)
	}
	if dy != 0 {
		ty = (h/2 + 3) / math.Abs(dy)
	}
	t := math.Min(tx, ty)
	return cx + dx*t, cy + dy*t
}
