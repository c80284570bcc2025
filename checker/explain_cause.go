package checker

import (
	"fmt"
	"math"
	"strings"

	"github.com/faultline-dev/faultline/histories"
)

// Cause says, in the history's terms, why an operation could not be
// linearized after the longest linearizable prefix: for a read, the write
// it should have seen (the latest one the prefix had to hold before the
// read began) and the write of the value it returned; the nodes that served
// them and when; and the faults in effect.
type Cause struct {
	// Kind is one of stale-read (the read returned a value the prefix had
	// overwritten before it began), future-read (a value written only
	// after it returned), never-written (a value no operation wrote),
	// read (a read that fits none of those), cas (a cas whose compare
	// contradicts the prefix), state (any other operation the state
	// refuses).
	Kind string `json:"kind"`
	// Op is the operation that could not be linearized.
	Op OpRef `json:"op"`
	// Missed is the write Op had to see at least: the last write of the
	// prefix up to the last operation that completed before Op began.
	Missed *OpRef `json:"missed,omitempty"`
	// SeenBy is that last operation, when Missed itself had not completed
	// before Op began (it ended in info, or later) and it is a read that
	// returned Missed's value: the witness that Missed had taken effect.
	SeenBy *OpRef `json:"seen_by,omitempty"`
	// ReturnedBy is the write of the value Op returned (a read) or
	// compared against (a cas); Initial says that value is the key's
	// initial value instead, which no operation wrote.
	ReturnedBy *OpRef `json:"returned_by,omitempty"`
	Initial    bool   `json:"initial,omitempty"`
	// Faults are the faults in effect while Op ran (or the last one healed
	// before it began), as they bear on Op's node. BeforeFaults says there
	// were none because Op ran before the history's first fault.
	Faults       []FaultRef `json:"faults,omitempty"`
	BeforeFaults bool       `json:"before_faults,omitempty"`
	// Text tells what happened in a sentence, without the faults; String
	// adds them.
	Text string `json:"text"`
}

// The kinds of Cause.
const (
	CauseStaleRead    = "stale-read"
	CauseFutureRead   = "future-read"
	CauseNeverWritten = "never-written"
	CauseRead         = "read"
	CauseCAS          = "cas"
	CauseState        = "state"
)

// noFaultYet is said of an op that ran before the history's first fault.
const noFaultYet = "No fault had been injected yet"

// maxCauses bounds the stuck operations of a key that are explained.
const maxCauses = 3

// String is the cause for people, in one line: "stale read: process 3
// read 2 from n3 (…), but …. n3 was on the minority side of …".
func (c Cause) String() string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(c.Kind, "-", " "))
	b.WriteString(": ")
	b.WriteString(c.Text)
	b.WriteString(".")
	for i, f := range c.Faults {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Text)
		if i == len(c.Faults)-1 {
			b.WriteString(".")
		}
	}
	if c.BeforeFaults {
		b.WriteString(" " + noFaultYet + ".")
	}
	return b.String()
}

// replay is a failing key's longest linearizable prefix replayed: the
// state after each op and which ops set it.
type replay struct {
	f      *failedKey
	facts  *historyFacts
	best   []int // op ids in linearization order
	states []any // states[i] is the state after the first i ops of best
	sets   []bool
	done   []bool // by op id: in the prefix
}

func newReplay(f *failedKey, best []int, facts *historyFacts) *replay {
	r := &replay{f: f, facts: facts, best: best, states: make([]any, 0, len(best)+1), sets: make([]bool, len(best)), done: make([]bool, len(f.ops))}
	state := f.model.Init()
	r.states = append(r.states, state)
	for i, id := range best {
		o := &f.ops[id]
		_, next := f.model.Step(state, o, nil)
		r.sets[i] = writes(o) && (o.kind != opCAS || o.outcome == histories.OK) || !f.model.Equal(state, next)
		state = next
		r.states = append(r.states, state)
		r.done[id] = true
	}
	return r
}

// writes says whether an op can change a key's state.
func writes(o *lop) bool {
	switch o.kind {
	case opWrite, opCAS, opPut, opAppend, opAcquire, opRelease:
		return true
	case opTxn:
		for _, m := range o.txn {
			if m.write {
				return true
			}
		}
	}
	return false
}

func reads(o *lop) bool { return o.kind == opRead || o.kind == opGet }

// setter is the op that left states[k]: the last op of the first k that
// set the state; -1 for the initial state.
func (r *replay) setter(k int) int {
	for i := k - 1; i >= 0; i-- {
		if r.sets[i] {
			return r.best[i]
		}
	}
	return -1
}

// ref is an op as a cause names it: with its node and times (its value
// not clipped yet: the text is written from the full values).
func (r *replay) ref(id int) *OpRef {
	x := r.f.part.refIn(&r.f.ops[id], r.facts)
	return &x
}

// cause explains why op id could not come next after the prefix.
func (r *replay) cause(id int) Cause {
	f, h := r.f, r.f.part.h
	o := &f.ops[id]
	inv := h[o.inv].Index
	comp := int64(math.MaxInt64)
	if o.comp != histories.Open && o.outcome != histories.Info {
		comp = h[o.comp].Index
	}
	c := Cause{Op: *r.ref(id)}
	// p is the last op of the prefix that completed before o began: o
	// must come after it, so see the state it left, or a later one.
	p := -1
	for i := len(r.best) - 1; i >= 0; i-- {
		x := &f.ops[r.best[i]]
		if x.outcome != histories.Info && x.comp != histories.Open && h[x.comp].Index < inv {
			p = i
			break
		}
	}
	if m := r.setter(p + 1); m >= 0 {
		c.Missed = r.ref(m)
		mo := &f.ops[m]
		completed := mo.outcome == histories.OK && h[mo.comp].Index < inv
		if w := r.best[p]; w != m && !completed && reads(&f.ops[w]) {
			c.SeenBy = r.ref(w)
		}
	}
	// Where in the prefix would o have been legal? After p it was not
	// (else it would not be stuck, short of other ops' constraints);
	// before p, o returned what the prefix had overwritten.
	legal := func(k int) bool {
		ok, _ := f.model.Step(r.states[k], o, nil)
		return ok
	}
	q, stale := -1, false
	for k := len(r.best); k > p; k-- {
		if legal(k) {
			q = k
			break
		}
	}
	if q < 0 {
		for k := p; k >= 0; k-- {
			if legal(k) {
				q, stale = k, true
				break
			}
		}
	}
	future := false
	switch {
	case o.kind == opCAS && o.outcome == histories.Fail:
		// What it compared against is unknown (not old, is all it says):
		// the story is the write of old it missed.
	case q >= 0:
		if s := r.setter(q); s >= 0 {
			c.ReturnedBy = r.ref(s)
		} else {
			c.Initial = true
		}
	default:
		// An op outside the prefix that would leave what o saw: an
		// unknown write, or one that could not be ordered before o.
		// Prefer one invoked before o returned.
		end := r.states[len(r.best)]
		w := -1
		for j := range f.ops {
			x := &f.ops[j]
			if r.done[j] || j == id || !writes(x) {
				continue
			}
			ok, next := f.model.Step(end, x, nil)
			if !ok {
				continue
			}
			if ok, _ := f.model.Step(next, o, nil); !ok {
				continue
			}
			if w < 0 || better(h, x, &f.ops[w], comp) {
				w = j
			}
		}
		if w >= 0 {
			c.ReturnedBy = r.ref(w)
			future = h[f.ops[w].inv].Index > comp
		}
	}
	switch {
	case o.kind == opCAS:
		c.Kind = CauseCAS
	case !reads(o):
		c.Kind = CauseState
	case stale:
		c.Kind = CauseStaleRead
	case future:
		c.Kind = CauseFutureRead
	case c.ReturnedBy == nil && !c.Initial:
		c.Kind = CauseNeverWritten
	default:
		c.Kind = CauseRead
	}
	c.Text = r.story(&c, o, stale, p)

	what := "the read"
	if !reads(o) {
		what = "the " + h[o.inv].F
	}
	t := faultTarget{what: what, inv: inv, comp: comp, invTime: h[o.inv].Time, node: c.Op.Node}
	if c.Missed != nil && c.Missed.Node != "" {
		t.other, t.otherRole = c.Missed.Node, "which served the write it missed"
	}
	c.Faults = r.facts.faultsAt(t)
	c.BeforeFaults = len(c.Faults) == 0 && len(r.facts.windows) > 0
	c.Op = c.Op.clipped()
	for _, x := range []*OpRef{c.Missed, c.SeenBy, c.ReturnedBy} {
		if x != nil {
			*x = x.clipped()
		}
	}
	return c
}

// better says whether x is a likelier source of what a read saw than y:
// invoked before the read returned (at comp), the latest such; else the
// earliest.
func better(h histories.History, x, y *lop, comp int64) bool {
	xi, yi := h[x.inv].Index, h[y.inv].Index
	if (xi < comp) != (yi < comp) {
		return xi < comp
	}
	if xi < comp {
		return xi > yi
	}
	return xi < yi
}

// story is the cause's text.
func (r *replay) story(c *Cause, o *lop, stale bool, p int) string {
	op := c.Op
	var b strings.Builder
	val := valueText(op.Value)
	switch {
	case reads(o):
		verb := op.F
		if verb == "get" {
			verb = "got"
		}
		fmt.Fprintf(&b, "process %s %s %s%s (%s)", op.Process, verb, val, onNode("from", op.Node), spanText(op))
	case o.kind == opCAS:
		old := ""
		if pair, ok := op.Value.([]any); ok && len(pair) == 2 {
			old = valueText(pair[0])
		}
		if op.Type == "fail" {
			fmt.Fprintf(&b, "process %s's %s%s failed its compare (%s), so the register did not hold %s", op.Process, opText(op.F, op.Value), onNode("on", op.Node), spanText(op), old)
		} else {
			fmt.Fprintf(&b, "process %s's %s%s succeeded (%s), so the register held %s", op.Process, opText(op.F, op.Value), onNode("on", op.Node), spanText(op), old)
		}
		val = old
	default:
		fmt.Fprintf(&b, "process %s's %s%s (%s) cannot follow the state %s", op.Process, opText(op.F, op.Value), onNode("on", op.Node), spanText(op),
			clip(r.f.model.DescribeState(r.states[p+1]), maxSummaryBytes))
		if c.Missed != nil {
			fmt.Fprintf(&b, " that %s left (%s)", writeText(*c.Missed), outcomeText(*c.Missed))
		}
		return b.String()
	}
	what := "the read"
	if o.kind == opCAS {
		what = "the cas"
	}
	missed := func() {
		m := *c.Missed
		switch {
		case m.Type == "ok" && m.Index < op.InvokeIndex:
			fmt.Fprintf(&b, ", but %s had completed at %s, before %s began", writeText(m), when(m.Completed, m.Index), what)
		case c.SeenBy != nil:
			s := *c.SeenBy
			fmt.Fprintf(&b, ", but %s (%s) had taken effect: process %s %s %s%s at %s, before %s began",
				writeText(m), outcomeText(m), s.Process, s.F, valueText(s.Value), onNode("from", s.Node), when(s.Completed, s.Index), what)
		default:
			fmt.Fprintf(&b, ", but %s (%s) came first", writeText(m), outcomeText(m))
		}
	}
	// source says where the value came from; after a missed write, when
	// in real time: before it, or overlapping it (then the prefix's
	// order is what puts it first).
	source := func(afterMissed bool) {
		switch {
		case c.Initial:
			fmt.Fprintf(&b, "; %s is the initial value, from before any write", val)
		case c.ReturnedBy != nil:
			w := *c.ReturnedBy
			earlier := afterMissed && c.Missed != nil && w.Type == "ok" && w.Index < c.Missed.InvokeIndex
			verb := ""
			if earlier {
				verb = "earlier "
			}
			fmt.Fprintf(&b, "; %s was written %sby %s (%s)", val, verb, writerText(w), outcomeText(w))
			if afterMissed && c.Missed != nil && !earlier {
				b.WriteString(", which overlapped that write and comes before it in the longest linearization found")
			}
		}
	}
	switch c.Kind {
	case CauseStaleRead:
		if c.Missed != nil {
			missed()
		}
		source(true)
	case CauseFutureRead:
		w := *c.ReturnedBy
		fmt.Fprintf(&b, ", but %s was written only by %s, invoked at %s, after the read had returned", val, writeText(w), when(w.Invoked, w.InvokeIndex))
	case CauseNeverWritten:
		b.WriteString(", but no operation on this key wrote that value")
		if c.Missed != nil {
			fmt.Fprintf(&b, "; the last write it had to see was %s (%s)", writeText(*c.Missed), outcomeText(*c.Missed))
		}
	default:
		if stale && c.Missed != nil {
			missed()
			source(true)
			break
		}
		source(false)
		switch {
		case c.ReturnedBy != nil:
			fmt.Fprintf(&b, ", which cannot be ordered before %s together with the other operations", what)
		case c.Missed != nil:
			fmt.Fprintf(&b, "; %s (%s) had to come before %s", writeText(*c.Missed), outcomeText(*c.Missed), what)
		}
	}
	return b.String()
}

// spanText is when an op ran: "invoked at 14.213 s, ok at 14.215 s".
func spanText(r OpRef) string {
	s := "invoked at " + when(r.Invoked, r.InvokeIndex)
	switch r.Type {
	case "ok", "fail":
		s += ", " + r.Type + " at " + when(r.Completed, r.Index)
	default:
		s += ", outcome unknown"
	}
	return s
}

// outcomeText is how a write ended: "ok at 12.905 s", "outcome unknown:
// invoked at 11.000 s, never acknowledged".
func outcomeText(r OpRef) string {
	switch r.Type {
	case "ok", "fail":
		return r.Type + " at " + when(r.Completed, r.Index)
	}
	return "outcome unknown: invoked at " + when(r.Invoked, r.InvokeIndex) + ", never acknowledged"
}

// writeText names a write: "process 1's write of 3 on n1", "process 5's
// cas from 93 to 94 on n1".
func writeText(r OpRef) string {
	var s string
	switch r.F {
	case "write", "put", "append":
		s = fmt.Sprintf("process %s's %s of %s", r.Process, r.F, valueText(r.Value))
	default:
		s = fmt.Sprintf("process %s's %s", r.Process, opText(r.F, r.Value))
	}
	return s + onNode("on", r.Node)
}

// opText is an op's f and value: "cas from 93 to 94", "acquire".
func opText(f string, v any) string {
	if pair, ok := v.([]any); ok && len(pair) == 2 && f == "cas" {
		return fmt.Sprintf("cas from %s to %s", valueText(pair[0]), valueText(pair[1]))
	}
	return f + valueSuffix(v)
}

// writerText names the op that wrote a value just named: "process 0 on
// n1" for a plain write, else as writeText does ("process 0's cas [3 1]
// on n1").
func writerText(r OpRef) string {
	if r.F == "write" || r.F == "put" {
		return "process " + r.Process.String() + onNode("on", r.Node)
	}
	return writeText(r)
}

func onNode(prep, node string) string {
	if node == "" {
		return ""
	}
	return " " + prep + " " + node
}

// Values in a cause's text are clipped shorter than elsewhere: a sentence
// names several.
const maxCauseValueBytes = 40

func valueText(v any) string { return clip(histories.FormatValue(v), maxCauseValueBytes) }

func valueSuffix(v any) string {
	if v == nil {
		return ""
	}
	return " " + valueText(v)
}

// when is a time in seconds since the start of the history, or an index
// when the history has no real times.
func when(seconds *float64, index int64) string {
	if seconds == nil {
		return fmt.Sprintf("index %d", index)
	}
	return fmtSecs(*seconds)
}
