package checker

import (
	"math"
	"slices"
	"strconv"
	"sync"
	"weak"

	"github.com/faultline-dev/faultline/histories"
)

// historyFacts are what explaining a failing key needs of the whole
// history, beyond the key's own ops: when it starts, whether its times are
// nanoseconds, its fault windows and its nodes. They cost a pass over the
// history, so they are computed once per history however many keys fail
// (see factsOf), and only when a key fails.
type historyFacts struct {
	origin int64 // the earliest time: times are said relative to it
	// positions: the times are not nanoseconds (a Jepsen log's line
	// numbers, or too small to be a real test's), so ops are placed by
	// index instead.
	positions bool
	windows   []histories.FaultWindow
	// nodes are every node the history names, in ops or in nemesis
	// values, in natural order.
	nodes []string
	// procNode is the node of each process whose ops name exactly one;
	// an op that never completed has no node of its own.
	procNode map[histories.Process]string
}

func computeFacts(h histories.History) *historyFacts {
	f := &historyFacts{procNode: map[histories.Process]string{}}
	if len(h) == 0 {
		return f
	}
	f.origin = h[0].Time
	lines := true
	var maxT int64
	seen := map[string]bool{}
	addNode := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			f.nodes = append(f.nodes, n)
		}
	}
	several := map[histories.Process]bool{}
	for i := range h {
		op := &h[i]
		f.origin = min(f.origin, op.Time)
		maxT = max(maxT, op.Time)
		if op.Line == 0 || op.Time != int64(op.Line) {
			lines = false
		}
		if op.Node == "" || op.Process == histories.Nemesis {
			continue
		}
		addNode(op.Node)
		if n, ok := f.procNode[op.Process]; ok && n != op.Node {
			several[op.Process] = true
		}
		f.procNode[op.Process] = op.Node
	}
	for p := range several {
		delete(f.procNode, p)
	}
	// The same rule as the report's: times that are line numbers, or too
	// small to be nanoseconds of a real test, are positions.
	f.positions = lines || maxT <= int64(10*len(h))
	f.windows, _ = histories.FaultWindows(h)
	for _, w := range f.windows {
		for _, n := range histories.ValueNodes(w.Value) {
			addNode(n)
		}
	}
	slices.SortFunc(f.nodes, compareNodes)
	return f
}

// factsCache keeps the facts of the histories being checked, by their
// first op, without keeping a history alive: the workers explaining the
// failing keys of one check share one computation.
var factsCache struct {
	mu      sync.Mutex
	entries []*factsEntry
}

type factsEntry struct {
	first weak.Pointer[histories.Op]
	n     int
	// last is the last op's index and time, so that a history changed in
	// place (same array, same length) is not mistaken for the one cached.
	lastIndex, lastTime int64
	once                sync.Once
	facts               *historyFacts
}

const maxFactsCached = 8

// factsOf returns h's facts, computing them once per history.
func factsOf(h histories.History) *historyFacts {
	if len(h) == 0 {
		return computeFacts(h)
	}
	wp := weak.Make(&h[0])
	last := &h[len(h)-1]
	c := &factsCache
	c.mu.Lock()
	var e *factsEntry
	live := c.entries[:0]
	for _, x := range c.entries {
		if x.first.Value() == nil {
			continue // the history is gone
		}
		live = append(live, x)
		if x.first == wp && x.n == len(h) && x.lastIndex == last.Index && x.lastTime == last.Time {
			e = x
		}
	}
	clear(c.entries[len(live):])
	c.entries = live
	if e == nil {
		e = &factsEntry{first: wp, n: len(h), lastIndex: last.Index, lastTime: last.Time}
		if len(c.entries) == maxFactsCached {
			c.entries = slices.Delete(c.entries, 0, 1)
		}
		c.entries = append(c.entries, e)
	}
	c.mu.Unlock()
	e.once.Do(func() { e.facts = computeFacts(h) })
	return e.facts
}

// seconds is t as seconds since the start of the history, to the
// microsecond; nil when the history's times are not nanoseconds.
func (f *historyFacts) seconds(t int64) *float64 {
	if f.positions {
		return nil
	}
	s := math.Round(float64(t-f.origin)/1e3) / 1e6
	return &s
}

// at says when something happened: "12.905 s" (since the start of the
// history), or "index 120" in a history without real times.
func (f *historyFacts) at(t, index int64) string {
	if f.positions {
		return "index " + strconv.FormatInt(index, 10)
	}
	return fmtSecs(float64(t-f.origin) / 1e9)
}

// between says how long from a to b: "0.312 s"; "" without real times.
func (f *historyFacts) between(a, b int64) string {
	if f.positions {
		return ""
	}
	return fmtSecs(float64(b-a) / 1e9)
}

func fmtSecs(s float64) string {
	return strconv.FormatFloat(s, 'f', 3, 64) + " s"
}

// compareNodes orders node names naturally: n2 before n10.
func compareNodes(a, b string) int {
	pa, na := trailingNumber(a)
	pb, nb := trailingNumber(b)
	if pa == pb && na >= 0 && nb >= 0 && na != nb {
		return na - nb
	}
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func trailingNumber(s string) (string, int) {
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
