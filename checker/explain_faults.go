package checker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/faultline-dev/faultline/histories"
)

// FaultRef is a fault window of the history as it bears on one operation:
// in effect while the operation ran, or, when none was, the last one
// healed before it began.
type FaultRef struct {
	// Fault is the fault's name (partition, pause, kill…) and Value what
	// its start-X op recorded (a partition's grudge, the nodes paused).
	Fault string `json:"fault"`
	Value any    `json:"value,omitempty"`
	// StartIndex and EndIndex are the history indexes of its start-X and
	// stop-X ops; EndIndex is -1 when nothing healed it.
	StartIndex int64 `json:"start_index"`
	EndIndex   int64 `json:"end_index"`
	// Start and End are the same in seconds since the start of the history
	// (absent in a history without real times; End absent when never
	// healed).
	Start *float64 `json:"start_seconds,omitempty"`
	End   *float64 `json:"end_seconds,omitempty"`
	// HealedBefore says it had been healed before the operation began.
	HealedBefore bool `json:"healed_before,omitempty"`
	// Nodes are the nodes it acted on.
	Nodes []string `json:"nodes,omitempty"`
	// Text says what it meant for the node that served the operation: "n3
	// was on the minority side of partition {n1 n2 | n3 n4 n5} since
	// 12.400 s".
	Text string `json:"text"`
}

// maxFaultRefs bounds the faults named for one operation.
const maxFaultRefs = 4

// faultTarget is the operation a fault is described for, and another node
// it may have been cut off from (the one that served the write it missed).
type faultTarget struct {
	what             string // "the read", "the cas"…
	inv, comp        int64  // history indexes; comp is math.MaxInt64 when it never completed
	invTime          int64
	node             string
	other, otherRole string // e.g. "n1", "which served the write it missed"
}

// faultsAt lists the fault windows in effect while t ran, or the last one
// healed before it began when none was.
func (f *historyFacts) faultsAt(t faultTarget) []FaultRef {
	var out []FaultRef
	last := -1
	for i := range f.windows {
		w := &f.windows[i]
		if w.StartIndex >= t.comp {
			break // windows are in order of their start
		}
		if w.Healed && w.EndIndex <= t.inv {
			if last < 0 || w.EndIndex > f.windows[last].EndIndex {
				last = i
			}
			continue
		}
		if len(out) < maxFaultRefs {
			out = append(out, f.faultRef(w, t, false))
		}
	}
	if len(out) == 0 && last >= 0 {
		out = append(out, f.faultRef(&f.windows[last], t, true))
	}
	return out
}

func (f *historyFacts) faultRef(w *histories.FaultWindow, t faultTarget, before bool) FaultRef {
	r := FaultRef{Fault: w.Name, Value: w.Value, StartIndex: w.StartIndex, EndIndex: w.EndIndex, HealedBefore: before,
		Start: f.seconds(w.Start), Nodes: histories.ValueNodes(w.Value)}
	if w.Healed {
		r.End = f.seconds(w.End)
	}
	if s, ok := r.Value.(string); ok {
		r.Value = clip(s, maxValueBytes)
	}
	r.Text = f.describeFault(w, t, before)
	return r
}

// when says when a window was in effect, relative to the operation:
// "since 12.400 s", "from 10.100 s until 14.000 s, healed 0.312 s before
// the read began".
func (f *historyFacts) when(w *histories.FaultWindow, t faultTarget, before bool) string {
	start := f.at(w.Start, w.StartIndex)
	switch {
	case before:
		s := "from " + start + " until " + f.at(w.End, w.EndIndex)
		if d := f.between(w.End, t.invTime); d != "" {
			return s + ", healed " + d + " before " + t.what + " began"
		}
		return s + ", healed before " + t.what + " began"
	case w.Healed && w.EndIndex < t.comp:
		s := "from " + start + " until " + f.at(w.End, w.EndIndex)
		if w.StartIndex > t.inv {
			return s + ", while " + t.what + " ran"
		}
		return s + ", healed while " + t.what + " ran"
	case w.StartIndex > t.inv:
		return "since " + start + ", while " + t.what + " ran"
	}
	return "since " + start
}

// describeFault says what a fault window meant for t's node.
func (f *historyFacts) describeFault(w *histories.FaultWindow, t faultTarget, before bool) string {
	when := f.when(w, t, before)
	was, were := "was", "were"
	if before {
		was, were = "had been", "had been"
	}
	nodes := histories.ValueNodes(w.Value)
	verb := func(one, many string) string {
		if len(nodes) == 1 {
			return one
		}
		return many
	}
	switch w.Name {
	case "partition":
		if s, away, ok := f.describePartition(w.Value, t, was); ok {
			return s + " " + when + away
		}
	case "pause":
		if len(nodes) > 0 {
			return fmt.Sprintf("%s %s paused %s", andList(nodes), verb(was, were), when)
		}
	case "kill":
		if len(nodes) > 0 {
			return fmt.Sprintf("%s %s down (killed) %s", andList(nodes), verb(was, were), when)
		}
	case "unplug":
		if len(nodes) > 0 {
			return fmt.Sprintf("%s %s unplugged from the network %s", andList(nodes), verb(was, were), when)
		}
	case "clock":
		if len(nodes) > 0 {
			return fmt.Sprintf("the %s of %s %s skewed%s %s", verb("clock", "clocks"), andList(nodes), verb(was, were), settings(w.Value, "mode", "offset", "period"), when)
		}
	case "packet":
		if len(nodes) > 0 {
			return fmt.Sprintf("packets to and from %s %s disturbed%s %s", andList(nodes), were, settings(w.Value, "loss", "rate", "delay", "jitter"), when)
		}
	}
	s := w.Name
	if w.Value != nil {
		s += " " + clip(histories.FormatValue(w.Value), maxSummaryBytes)
	}
	return fmt.Sprintf("%s %s in effect %s", s, was, when)
}

// settings lists some fields of a nemesis value: " (mode bump, offset 5s)".
func settings(v any, keys ...string) string {
	m, _ := v.(map[string]any)
	var parts []string
	for _, k := range keys {
		if x, ok := m[k]; ok && x != nil {
			s, ok := x.(string)
			if !ok {
				s = histories.FormatValue(x)
			}
			parts = append(parts, k+" "+s)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// describePartition reads a grudge (node → the nodes it cannot hear from)
// and says where t's node stood: "n3 was on the minority side of
// partition {n1 n2 | n3 n4 n5}". A grudge whose links do not split the
// nodes into groups (a ring, a bridge) is named by the links it cuts.
//
// away is what follows the time: ", away from n1, which served the write
// it missed", when the partition cut t's node off from t.other.
func (f *historyFacts) describePartition(v any, t faultTarget, was string) (s, away string, ok bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return "", "", false
	}
	grudge := map[string][]string{}
	nodes := slices.Clone(f.nodes)
	add := func(n string) {
		if !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
	}
	for n, x := range m {
		l, ok := x.([]any)
		if !ok {
			return "", "", false
		}
		add(n)
		for _, p := range l {
			s, ok := p.(string)
			if !ok {
				return "", "", false
			}
			grudge[n] = append(grudge[n], s)
			add(s)
		}
	}
	if t.node != "" {
		add(t.node)
	}
	slices.SortFunc(nodes, compareNodes)
	cut := func(a, b string) bool {
		return slices.Contains(grudge[a], b) || slices.Contains(grudge[b], a)
	}
	// The nodes each can reach; groups when reaching is an equivalence.
	reach := map[string][]string{}
	for _, a := range nodes {
		for _, b := range nodes {
			if a == b || !cut(a, b) {
				reach[a] = append(reach[a], b)
			}
		}
	}
	groups := true
	for _, a := range nodes {
		for _, b := range reach[a] {
			if !slices.Equal(reach[a], reach[b]) {
				groups = false
			}
		}
	}
	var name string
	if groups {
		var sides []string
		seen := map[string]bool{}
		for _, a := range nodes {
			if !seen[a] {
				for _, b := range reach[a] {
					seen[b] = true
				}
				sides = append(sides, strings.Join(reach[a], " "))
			}
		}
		if len(sides) < 2 {
			return "", "", false // cuts nothing
		}
		name = "partition {" + strings.Join(sides, " | ") + "}"
	} else {
		var links []string
		for i, a := range nodes {
			for _, b := range nodes[i+1:] {
				if cut(a, b) {
					links = append(links, a+"–"+b)
				}
			}
		}
		name = "partition cutting " + strings.Join(links, ", ")
	}
	if t.node == "" {
		return name + " " + was + " in effect", "", true
	}
	if groups {
		side, n := len(reach[t.node]), len(nodes)
		switch {
		case 2*side > n:
			s = fmt.Sprintf("%s %s on the majority side of %s", t.node, was, name)
		case 2*side == n:
			s = fmt.Sprintf("%s %s on a side without a majority of %s", t.node, was, name)
		default:
			s = fmt.Sprintf("%s %s on the minority side of %s", t.node, was, name)
		}
	} else {
		var from []string
		for _, b := range nodes {
			if b != t.node && cut(t.node, b) {
				from = append(from, b)
			}
		}
		if len(from) == 0 {
			s = fmt.Sprintf("%s %s in effect, %s was not cut off", name, was, t.node)
		} else {
			s = fmt.Sprintf("%s %s cut off from %s by %s", t.node, was, andList(from), name)
		}
	}
	if t.other != "" && t.other != t.node && cut(t.node, t.other) {
		away = fmt.Sprintf(", away from %s, %s", t.other, t.otherRole)
	}
	return s, away, true
}

// andList is "n1", "n1 and n2", "n1, n2 and n3".
func andList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
