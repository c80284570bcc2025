package histories

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FaultWindow is the time a fault was in effect: from a start-X nemesis
// op to the next stop-X (or to the end of the history, when nothing
// healed it).
type FaultWindow struct {
	// Name is X: "partition", "kill"…; "fault" for Jepsen's bare
	// start / stop.
	Name string
	// Start and End are op times; End is -1 when no stop-X closed it.
	Start, End int64
	// StartIndex and EndIndex are the ops' indexes (EndIndex -1 when open).
	StartIndex, EndIndex int64
	// Value is the start op's value (what was done: the grudge, the nodes).
	Value any
	// Healed says a stop-X closed the window.
	Healed bool
}

// NemesisEvent is a nemesis op that opens or closes no window: a kill
// recorded as one op, a lone stop, a failed start, check-offsets.
type NemesisEvent struct {
	Time, Index int64
	F           string
	Value       any
	Error       string
}

// FaultName reads start-X / stop-X (and Jepsen's bare start / stop).
func FaultName(f string) (name string, start, stop bool) {
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

// FaultWindows pairs each start-X with the next stop-X, as the history
// records them: nemesis ops that are not invocations (a nemesis that also
// records its invocations has them skipped, so a window spans what took
// effect). A start-X that failed (its op has an error) opens nothing; a
// start-X while X is open is folded into the open window. Windows are in
// order of their start.
func FaultWindows(h History) ([]FaultWindow, []NemesisEvent) {
	var windows []FaultWindow
	var events []NemesisEvent
	open := map[string]int{} // X -> index into windows
	for i := range h {
		op := &h[i]
		if op.Process != Nemesis || op.Type == Invoke {
			continue
		}
		ev := NemesisEvent{Time: op.Time, Index: op.Index, F: op.F, Value: op.Value, Error: op.Error}
		name, isStart, isStop := FaultName(op.F)
		switch {
		case isStart && op.Error == "":
			if _, ok := open[name]; ok {
				continue
			}
			open[name] = len(windows)
			windows = append(windows, FaultWindow{Name: name, Start: op.Time, End: -1, StartIndex: op.Index, EndIndex: -1, Value: op.Value})
		case isStop && op.Error == "":
			if j, ok := open[name]; ok {
				windows[j].End, windows[j].EndIndex, windows[j].Healed = op.Time, op.Index, true
				delete(open, name)
				continue
			}
			events = append(events, ev)
		default:
			events = append(events, ev)
		}
	}
	slices.SortStableFunc(windows, func(a, b FaultWindow) int { return int(min(max(a.Start-b.Start, -1), 1)) })
	return windows, events
}

// FaultStat sums up one kind of fault over a history: how often it was
// in effect, for how long, and on which nodes.
type FaultStat struct {
	// Fault is the fault's name (partition, kill…).
	Fault string `json:"fault"`
	// Injected counts the windows it was in effect; Failed the
	// injections that failed (nothing, or part of it, took effect).
	Injected int `json:"injected"`
	Failed   int `json:"failed"`
	// Seconds is the total time in effect (an unhealed window counts to
	// the end of the history).
	Seconds float64 `json:"seconds"`
	// Nodes are the nodes it acted on, as far as the ops' values name
	// them.
	Nodes []string `json:"nodes"`
	// Unhealed counts windows that no stop closed.
	Unhealed int `json:"unhealed,omitempty"`
	// Errors are the distinct errors of the failed injections (and of
	// stops that failed), at most maxFaultErrors of them, in order.
	Errors []string `json:"errors,omitempty"`
}

// maxFaultErrors bounds FaultStat.Errors: a fault that fails the same way
// every time needs one line, not a hundred.
const maxFaultErrors = 3

// SummarizeFaults sums up each fault of h, in order of first injection
// (faults that only failed come last).
func SummarizeFaults(h History) []FaultStat {
	windows, events := FaultWindows(h)
	var last int64
	if len(h) > 0 {
		last = h[len(h)-1].Time
	}
	var out []FaultStat
	at := map[string]int{}
	stat := func(name string) *FaultStat {
		i, ok := at[name]
		if !ok {
			i = len(out)
			at[name] = i
			out = append(out, FaultStat{Fault: name, Nodes: []string{}})
		}
		return &out[i]
	}
	for _, w := range windows {
		s := stat(w.Name)
		s.Injected++
		end := w.End
		if !w.Healed {
			s.Unhealed++
			end = last
		}
		s.Seconds += float64(max(0, end-w.Start)) / 1e9
		for _, n := range ValueNodes(w.Value) {
			if !slices.Contains(s.Nodes, n) {
				s.Nodes = append(s.Nodes, n)
			}
		}
	}
	for _, e := range events {
		name, start, stop := FaultName(e.F)
		if e.Error == "" || !start && !stop {
			continue
		}
		s := stat(name)
		if start {
			s.Failed++
		}
		msg := e.F + ": " + e.Error
		if len(s.Errors) < maxFaultErrors && !slices.Contains(s.Errors, msg) {
			s.Errors = append(s.Errors, msg)
		}
	}
	for i := range out {
		slices.SortFunc(out[i].Nodes, compareNodeNames)
		out[i].Seconds = float64(int64(out[i].Seconds*1e6+0.5)) / 1e6
	}
	return out
}

// ValueNodes reads the node names a nemesis op's value names: a list of
// names (kill, pause), a map with a "nodes" list (clock, packet), or a
// map from node to what it holds (a partition's grudge: the nodes and the
// peers they are cut from, a node with an empty grudge left out; Jepsen's
// {"n1" "killed"}).
func ValueNodes(v any) []string {
	switch v := v.(type) {
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case map[string]any:
		if ns, ok := v["nodes"]; ok {
			return ValueNodes(ns)
		}
		var out []string
		for k, x := range v {
			if l, ok := x.([]any); ok {
				if len(l) == 0 {
					continue
				}
				// A grudge: the node and the peers it is cut from.
				for _, p := range ValueNodes(l) {
					if !slices.Contains(out, p) {
						out = append(out, p)
					}
				}
			}
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
		slices.SortFunc(out, compareNodeNames)
		return out
	}
	return nil
}

// compareNodeNames orders node names naturally: n2 before n10.
func compareNodeNames(a, b string) int {
	pa, na := splitNumber(a)
	pb, nb := splitNumber(b)
	if pa == pb && na >= 0 && nb >= 0 && na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

// splitNumber splits a trailing decimal number off s (-1 when none).
func splitNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' && len(s)-i < 9 {
		i--
	}
	if i == len(s) {
		return s, -1
	}
	n, _ := strconv.Atoi(s[i:])
	return s[:i], n
}

// String is one fault's line: "partition 3× for 28.1s on n1, n2, n3 (1
// failed)", or "pause: never injected".
func (s FaultStat) String() string {
	if s.Injected == 0 {
		if s.Failed > 0 {
			return fmt.Sprintf("%s: never in effect (%d injections failed)", s.Fault, s.Failed)
		}
		return s.Fault + ": never injected"
	}
	d := time.Duration(s.Seconds * 1e9)
	switch {
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(time.Millisecond)
	}
	out := fmt.Sprintf("%s %d× for %s", s.Fault, s.Injected, d)
	if len(s.Nodes) > 0 {
		out += " on " + strings.Join(s.Nodes, ", ")
	}
	var notes []string
	if s.Failed > 0 {
		notes = append(notes, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.Unhealed > 0 {
		notes = append(notes, fmt.Sprintf("%d never healed in the history", s.Unhealed))
	}
	if len(notes) > 0 {
		out += " (" + strings.Join(notes, ", ") + ")"
	}
	return out
}

// Counts are what a history holds: client operations (each an invocation,
// completed or not, or a completion alone in a history without
// invocations), nemesis events and history events (lines).
type Counts struct {
	Ops     int `json:"ops"`
	Nemesis int `json:"nemesis_events"`
	Events  int `json:"history_events"`
}

// Count counts h.
func Count(h History) Counts {
	var c Counter
	for i := range h {
		c.Add(&h[i])
	}
	return c.Counts()
}

// A Counter is Count op by op.
type Counter struct {
	events, nemesis, invokes, completions int
}

// Add counts one more op.
func (c *Counter) Add(op *Op) {
	c.events++
	switch {
	case op.Process == Nemesis:
		c.nemesis++
	case op.Type == Invoke:
		c.invokes++
	default:
		c.completions++
	}
}

// Counts are the counts of the ops added.
func (c *Counter) Counts() Counts {
	n := Counts{Events: c.events, Nemesis: c.nemesis, Ops: c.invokes}
	if c.invokes == 0 {
		n.Ops = c.completions
	}
	return n
}
