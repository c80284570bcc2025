package reports

import (
	"math"
	"sort"
	"strings"

	"github.com/faultline-dev/faultline/histories"
)

// fault is a nemesis window: from a start-X to the next stop-X (or the end of
// the history, when nothing healed it). Times are relative to the start of
// the history.
type fault struct {
	Name       string // X: "partition", "kill"…; "fault" for bare start/stop
	Start, End int64
	Healed     bool   // a stop-X closed it
	Detail     string // the start op's value, e.g. the partition's grudge
	StartIndex int64
	EndIndex   int64
}

// nemesisEvent is a nemesis op that opens no window.
type nemesisEvent struct {
	Time   int64
	F      string
	Detail string
}

// faultWindows pairs each start-X with the next stop-X, as the history
// records them: nemesis ops of type info (a nemesis that also records its
// invocations has them skipped, so a window spans what took effect). A
// start-X while X is already open is folded into the open window.
func faultWindows(h histories.History, origin, span int64) ([]fault, []nemesisEvent) {
	var faults []fault
	var events []nemesisEvent
	open := map[string]int{} // X -> index into faults
	for i := range h {
		op := &h[i]
		if op.Process != histories.Nemesis || op.Type == histories.Invoke {
			continue
		}
		t := op.Time - origin
		name, isStart, isStop := faultName(op.F)
		switch {
		case isStart:
			if _, ok := open[name]; ok {
				continue
			}
			open[name] = len(faults)
			faults = append(faults, fault{Name: name, Start: t, End: -1, Detail: valueText(op.Value), StartIndex: op.Index})
		case isStop:
			if j, ok := open[name]; ok {
				faults[j].End, faults[j].Healed, faults[j].EndIndex = t, true, op.Index
				delete(open, name)
				continue
			}
			events = append(events, nemesisEvent{Time: t, F: op.F, Detail: valueText(op.Value)})
		default:
			events = append(events, nemesisEvent{Time: t, F: op.F, Detail: valueText(op.Value)})
		}
	}
	for i := range faults {
		if faults[i].End < 0 {
			faults[i].End = span
			faults[i].EndIndex = -1
		}
	}
	sort.SliceStable(faults, func(i, j int) bool { return faults[i].Start < faults[j].Start })
	return faults, events
}

// faultName reads start-X / stop-X (and Jepsen's bare start / stop).
func faultName(f string) (name string, start, stop bool) {
	switch {
	case f == "start":
		return "fault", true, false
	case f == "stop":
		return "fault", false, true
	case strings.HasPrefix(f, "start-"):
		return strings.TrimPrefix(f, "start-"), true, false
	case strings.HasPrefix(f, "stop-"):
		return strings.TrimPrefix(f, "stop-"), false, true
	}
	return f, false, false
}

func valueText(v any) string {
	if v == nil {
		return ""
	}
	return truncate(histories.FormatValue(v), 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// faultPalette colours fault kinds consistently across plots: one hue per
// name, in order of first appearance.
var faultPalette = []string{"#8e6cc7", "#c76c9a", "#6c8ec7", "#c79a6c", "#6cc79a", "#9a9a9a"}

func faultColors(faults []fault) map[string]string {
	m := map[string]string{}
	for _, f := range faults {
		if _, ok := m[f.Name]; !ok {
			m[f.Name] = faultPalette[len(m)%len(faultPalette)]
		}
	}
	return m
}

// availability is how the system served during one fault window.
type availability struct {
	Fault                  fault
	Ops, OK, Fail, Info    int
	Reads, ReadsComplete   int
	Recovery               int64 // time from the heal to service again; -1 unknown
	RecoveryNodes          []nodeRecovery
	NotRecovered, NoHealed bool
}

type nodeRecovery struct {
	Node string
	Time int64 // -1: no successful op on that node after the heal
}

// availabilityOf measures each fault window: of the client ops invoked
// within it, the fraction that succeeded (the yield) and, of the reads they
// attempted, the fraction that returned a complete result (the harvest: a
// read micro-op counts as complete when its op committed); and after each
// heal, the time until every node that was asked again answered an op
// invoked after the heal.
func (a *analysis) availabilityOf() ([]availability, availability) {
	var out []availability
	var base availability // ops outside every window
	inWindow := make([]bool, len(a.ops))
	for _, f := range a.faults {
		av := availability{Fault: f, Recovery: -1}
		end := f.End
		if !f.Healed {
			end = math.MaxInt64 // to the end of the history, inclusive
		}
		for i := a.firstOpAt(f.Start); i < len(a.ops) && a.ops[i].start < end; i++ {
			o := &a.ops[i]
			inWindow[i] = true
			av.add(a.h, o)
		}
		if f.Healed {
			av.RecoveryNodes, av.Recovery, av.NotRecovered = a.recoveryAfter(f.End)
		} else {
			av.NoHealed = true
		}
		out = append(out, av)
	}
	for i := range a.ops {
		if !inWindow[i] {
			base.add(a.h, &a.ops[i])
		}
	}
	return out, base
}

func (av *availability) add(h histories.History, o *opRec) {
	av.Ops++
	switch o.outcome {
	case histories.OK:
		av.OK++
	case histories.Fail:
		av.Fail++
	default:
		av.Info++
	}
	r := readsOf(&h[o.inv])
	av.Reads += r
	if o.outcome == histories.OK {
		av.ReadsComplete += r
	}
}

// recoveryAfter finds, per node (ops without a node count as one), the first
// successful op invoked at or after t, and returns the latest of those: the
// time until the whole cluster served again.
func (a *analysis) recoveryAfter(t int64) (nodes []nodeRecovery, worst int64, notRecovered bool) {
	first := map[string]int64{}
	asked := map[string]bool{}
	for i := a.firstOpAt(t); i < len(a.ops); i++ {
		o := &a.ops[i]
		node := a.nodeOf(o)
		if node == "" && a.hasNodes() {
			continue // where it went is unknown (it never completed)
		}
		asked[node] = true
		if o.outcome != histories.OK {
			continue
		}
		if d, ok := first[node]; !ok || o.end-t < d {
			first[node] = o.end - t
		}
	}
	names := make([]string, 0, len(asked))
	for n := range asked {
		names = append(names, n)
	}
	sort.Strings(names)
	worst = -1
	for _, n := range names {
		d, ok := first[n]
		if !ok {
			nodes = append(nodes, nodeRecovery{Node: n, Time: -1})
			notRecovered = true
			continue
		}
		nodes = append(nodes, nodeRecovery{Node: n, Time: d})
		worst = max(worst, d)
	}
	return nodes, worst, notRecovered
}

func (a *analysis) nodeOf(o *opRec) string {
	if o.comp != histories.Open && a.h[o.comp].Node != "" {
		return a.h[o.comp].Node
	}
	return a.h[o.inv].Node
}

// firstOpAt is the first op invoked at or after t (ops are in invocation
// order, and the recorder's times never decrease).
func (a *analysis) firstOpAt(t int64) int {
	return sort.Search(len(a.ops), func(i int) bool { return a.ops[i].start >= t })
}

// hasNodes says whether the history records which node served its ops.
func (a *analysis) hasNodes() bool {
	if a.nodesKnown == 0 {
		a.nodesKnown = -1
		for i := range a.ops {
			if a.nodeOf(&a.ops[i]) != "" {
				a.nodesKnown = 1
				break
			}
		}
	}
	return a.nodesKnown > 0
}
