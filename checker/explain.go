package checker

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/faultline-dev/faultline/histories"
)

// LinearizableDetails is the linearizability checker's Details in
// results.json.
type LinearizableDetails struct {
	Model string `json:"model"`
	// Keys is how many keys (partitions) were checked, Ops how many
	// operations they held (fails and unknown reads are not counted: they
	// have no effect to linearize).
	Keys int `json:"keys"`
	Ops  int `json:"ops"`
	// Decided is how many keys were decided; Undecided how many were not,
	// because the check timed out (TimedOut) or because the search of other
	// keys stops a while after the first violation (StoppedAfterViolation
	// of them; see LinearizableOptions.ViolationGrace).
	Decided               int  `json:"decided"`
	Undecided             int  `json:"undecided,omitempty"`
	TimedOut              bool `json:"timed_out,omitempty"`
	StoppedAfterViolation int  `json:"stopped_after_violation,omitempty"`
	// Failures are the keys with no linearization, at most 100; FailuresCut
	// says how many more there were.
	Failures    []KeyFailure `json:"failures,omitempty"`
	FailuresCut int          `json:"failures_cut,omitempty"`
}

// KeyFailure explains one key with no linearization: porcupine's longest
// linearizable prefix, the state it leaves, and the operations that could
// come next in real time but cannot be linearized from that state.
type KeyFailure struct {
	Key        string `json:"key"`
	Ops        int    `json:"ops"`
	Linearized int    `json:"linearized"`
	State      string `json:"state"`
	// Stuck are the ops that could not be linearized next (at most
	// maxOpsListed; StuckCut says how many more).
	Stuck    []OpRef `json:"stuck"`
	StuckCut int     `json:"stuck_cut,omitempty"`
	// PrefixTail is the end of the longest linearizable prefix, the ops
	// that led to State (at most maxOpsListed, in linearization order).
	PrefixTail []OpRef `json:"prefix_tail,omitempty"`
	// Causes say in the history's terms why the first stuck ops (at most
	// maxCauses, reads first) could not come next: the write a read missed
	// and the one it returned, the nodes that served them, when, and the
	// faults in effect.
	Causes []Cause `json:"causes,omitempty"`

	summaryLine string // for the Result's Summary, from unclipped values
}

// OpRef is an operation as a report shows it. Index and Line are the
// completion's, or the invocation's when the op never completed or ended in
// info; InvokeIndex is always the invocation's.
type OpRef struct {
	Index       int64             `json:"index"`
	Line        int               `json:"line,omitempty"`
	InvokeIndex int64             `json:"invoke_index"`
	Process     histories.Process `json:"process"`
	Type        string            `json:"type"`
	F           string            `json:"f"`
	Key         string            `json:"key,omitempty"`
	Value       any               `json:"value"`
	Error       string            `json:"error,omitempty"`
	// Node is the node that served the op, when the history says
	// (faultline run records it; Jepsen histories do not).
	Node string `json:"node,omitempty"`
	// Invoked and Completed are when, in seconds since the start of the
	// history (absent in a history without real times; Completed absent
	// when the op never completed or ended in info).
	Invoked   *float64 `json:"invoked_seconds,omitempty"`
	Completed *float64 `json:"completed_seconds,omitempty"`
}

const maxOpsListed = 20

func (part *partition) ref(o *lop) OpRef { return part.refIn(o, nil) }

// refIn is the ref with its times and, for an op that never completed, its
// process's node, from the history's facts (none when nil).
func (part *partition) refIn(o *lop, facts *historyFacts) OpRef {
	h := part.h
	inv := &h[o.inv]
	r := OpRef{Index: inv.Index, Line: int(inv.Line), InvokeIndex: inv.Index, Process: inv.Process, F: inv.F, Key: inv.Key, Value: inv.Value, Type: "info", Node: inv.Node}
	if o.comp != histories.Open {
		c := &h[o.comp]
		r.Type, r.Error = c.Type.String(), c.Error
		if c.Node != "" {
			r.Node = c.Node
		}
		if c.Type != histories.Info {
			r.Index, r.Line = c.Index, int(c.Line)
		}
		if c.Type == histories.OK && (o.kind == opRead || o.kind == opGet || o.kind == opTxn) {
			r.Value = c.Value // what was read
		}
	}
	if facts != nil {
		if r.Node == "" {
			r.Node = facts.procNode[inv.Process]
		}
		r.Invoked = facts.seconds(inv.Time)
		if r.Type == "ok" || r.Type == "fail" {
			r.Completed = facts.seconds(h[o.comp].Time)
		}
	}
	return r
}

// clipped is the ref as results.json lists it, with a long string value
// clipped.
func (r OpRef) clipped() OpRef {
	if str, ok := r.Value.(string); ok {
		r.Value = clip(str, maxValueBytes)
	}
	return r
}

// Long strings (a kv's appended values) are clipped in reports.
const (
	maxValueBytes   = 256
	maxSummaryBytes = 80
)

// clip shortens s to about n bytes, saying how long it was.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

// where says who ran an op and where it is: "process 3 read 4 on n3 (ok at
// index 120, line 121)".
func (part *partition) where(o *lop) string {
	return part.ref(o).String()
}

func (r OpRef) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "process %s %s", r.Process, r.F)
	if r.Value != nil || r.F == "read" || r.F == "get" {
		b.WriteString(" " + clip(histories.FormatValue(r.Value), maxSummaryBytes))
	}
	if r.Node != "" {
		b.WriteString(" on " + r.Node)
	}
	if r.Type == "info" {
		fmt.Fprintf(&b, " (info; invoked at index %d", r.Index)
	} else {
		fmt.Fprintf(&b, " (%s at index %d", r.Type, r.Index)
	}
	if r.Line > 0 {
		fmt.Fprintf(&b, ", line %d", r.Line)
	}
	if r.Type == "fail" && r.F == "cas" {
		b.WriteString(", compare did not match")
	}
	b.WriteString(")")
	return b.String()
}

// explainKey reads porcupine's partial linearizations of a failing key: the
// longest prefix that linearizes, the state after it, and the ops that could
// come next (no other unlinearized op returned before they were called) but
// that the model refuses from that state; then why, for the first of them
// (see Cause).
func explainKey(f *failedKey) KeyFailure {
	kf := KeyFailure{Key: f.key, Ops: len(f.ops)}
	var best []int
	if p := f.info.PartialLinearizations(); len(p) > 0 {
		for _, lin := range p[0] {
			if len(lin) > len(best) || (len(lin) == len(best) && slices.Compare(lin, best) < 0) {
				best = lin
			}
		}
	}
	kf.Linearized = len(best)
	facts := factsOf(f.part.h)
	rp := newReplay(f, best, facts)
	state := rp.states[len(best)]
	fullState := f.model.DescribeState(state)
	kf.State = clip(fullState, maxValueBytes)

	// porcupine's Call/Return are history indexes, and an unknown outcome
	// never returns.
	ret := func(o *lop) int64 {
		if o.outcome == histories.Info {
			return 1<<63 - 1
		}
		return f.part.h[o.comp].Index
	}
	minRet := int64(1<<63 - 1)
	for i := range f.ops {
		if !rp.done[i] {
			minRet = min(minRet, ret(&f.ops[i]))
		}
	}
	var next, stuck []int
	for i := range f.ops {
		o := &f.ops[i]
		if rp.done[i] || f.part.h[o.inv].Index > minRet {
			continue
		}
		next = append(next, i)
		if ok, _ := f.model.Step(state, o, nil); !ok {
			stuck = append(stuck, i)
		}
	}
	if len(stuck) == 0 {
		stuck = next // cannot happen with a deterministic model; say something useful anyway
	}
	for i, id := range stuck {
		if i == maxOpsListed {
			kf.StuckCut = len(stuck) - i
			break
		}
		kf.Stuck = append(kf.Stuck, f.part.ref(&f.ops[id]))
	}
	tail := best[max(0, len(best)-maxOpsListed):]
	for _, id := range tail {
		kf.PrefixTail = append(kf.PrefixTail, f.part.ref(&f.ops[id]).clipped())
	}
	// Reads first: a read that missed a write is the story people know.
	explain := slices.Clone(stuck)
	slices.SortStableFunc(explain, func(a, b int) int {
		ra, rb := reads(&f.ops[a]), reads(&f.ops[b])
		switch {
		case ra == rb:
			return 0
		case ra:
			return -1
		}
		return 1
	})
	for _, id := range explain[:min(len(explain), maxCauses)] {
		kf.Causes = append(kf.Causes, rp.cause(id))
	}
	// The summary is written from the full values, the details clip them.
	kf.summaryLine = kf.summary(fullState)
	for i := range kf.Stuck {
		kf.Stuck[i] = kf.Stuck[i].clipped()
	}
	return kf
}

// summary is the key's line in the Result's Summary: "key 7: no
// linearization of 12 ops; stuck after 5 (state 3) — could not linearize:
// process 3 read 4 on n3 (ok at index 120, line 121)", and below it the
// first cause: "  stale read: process 3 read 4 from n3 (…), but …".
func (kf KeyFailure) summary(state string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "no linearization of %d ops; stuck after %d (state %s) — could not linearize: ", kf.Ops, kf.Linearized, clip(state, maxSummaryBytes))
	const inSummary = 3
	for i, r := range kf.Stuck {
		if i == inSummary {
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.String())
	}
	if more := len(kf.Stuck) + kf.StuckCut - inSummary; more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	if len(kf.Causes) > 0 {
		b.WriteString("\n  ")
		b.WriteString(kf.Causes[0].String())
	}
	return b.String()
}
