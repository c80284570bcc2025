package reports

import (
	"math"
	"sort"

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

// faultWindows is histories.FaultWindows with times relative to origin
// (an unhealed window ends at span) and values as text.
func faultWindows(h histories.History, origin, span int64) ([]fault, []nemesisEvent) {
	ws, evs := histories.FaultWindows(h)
	faults := make([]fault, len(ws))
	for i, w := range ws {
		faults[i] = fault{Name: w.Name, Start: w.Start - origin, End: span, Healed: w.Healed, Detail: valueText(w.Value), StartIndex: w.StartIndex, EndIndex: w.EndIndex}
		if w.Healed {
			faults[i].End = w.End - origin
		}
	}
	events := make([]nemesisEvent, len(evs))
	for i, e := range evs {
		events[i] = nemesisEvent{Time: e.Time - origin, F: e.F, Detail: valueText(e.Value)}
		if e.Error != "" {
			events[i].Detail = truncate("failed: "+e.Error, 200)
		}
	}
	return faults, events
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
