// Package wl holds what the workload checkers (checker/set, counter, bank,
// queue, lock, uniqueids) share: pairing a history once, splitting it by
// key (Jepsen's independent keys), naming ops in summaries and results.json
// (index, process, node, seconds since the start), elements as map keys,
// quantiles, and the error for an op whose shape a checker cannot read.
package wl

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// OpError is an op a checker cannot interpret (a read whose value is not a
// list, a transfer without :from). It names the op's line when the history
// was read from a file, and its index always.
type OpError struct {
	Checker string
	Index   int64
	Line    int
	Msg     string
}

func (e *OpError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d (op index %d): %s: %s", e.Line, e.Index, e.Checker, e.Msg)
	}
	return fmt.Sprintf("op index %d: %s: %s", e.Index, e.Checker, e.Msg)
}

// Errorf is an *OpError for op.
func Errorf(name string, op *histories.Op, format string, args ...any) *OpError {
	return &OpError{Checker: name, Index: op.Index, Line: int(op.Line), Msg: fmt.Sprintf(format, args...)}
}

// Shape names a normalised value's kind for error messages.
func Shape(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case []any:
		return fmt.Sprintf("a list of %d", len(x))
	case map[string]any:
		return "a map"
	case int64:
		return "the integer " + strconv.FormatInt(x, 10)
	case float64:
		return "the float " + strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return "the string " + Clip(strconv.Quote(x))
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("a %T", v)
}

// Clip shortens a text quoted in a message.
func Clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// Int reads an integer value: an int64, or a float64 with an integral
// value (JSON writers that print 3.0).
func Int(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

// textKey is the map key of an element that is a list or a map: its text,
// typed apart from a string element with the same characters.
type textKey string

// Elem is v as a map key: scalars as themselves (int64, float64, string,
// bool), a list or a map as its text. nil is no element: ok is false.
func Elem(v any) (k any, ok bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case int64, string, bool:
		return x, true
	case float64:
		if i, isInt := Int(x); isInt {
			return i, true // 3.0 and 3 are the same element
		}
		return x, true
	case []any, map[string]any:
		return textKey(histories.FormatValue(x)), true
	}
	return textKey(fmt.Sprint(v)), true
}

// ElemValue turns a key made by Elem back into a value for results.json.
func ElemValue(k any) any {
	if t, ok := k.(textKey); ok {
		return string(t)
	}
	return k
}

// CompareElems orders elements: numbers by value before strings, strings
// by text, the rest by their text.
func CompareElems(a, b any) int {
	ra, rb := elemRank(a), elemRank(b)
	if ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpOrdered(x, y)
		case float64:
			return cmpOrdered(float64(x), y)
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return cmpOrdered(x, float64(y))
		case float64:
			return cmpOrdered(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	}
	return strings.Compare(histories.FormatValue(ElemValue(a)), histories.FormatValue(ElemValue(b)))
}

func elemRank(v any) int {
	switch v.(type) {
	case int64, float64:
		return 0
	case string:
		return 1
	case bool:
		return 2
	}
	return 3
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// FormatElem renders an element in a summary.
func FormatElem(k any) string { return histories.FormatValue(ElemValue(k)) }

// Paired is a history with its invocations paired to their completions.
type Paired struct {
	H     histories.History
	Pairs []histories.Pair
	// PairAt maps each position of H to its pair, -1 for nemesis ops.
	PairAt []int32
}

// Pair validates and pairs h (see histories.Pairs).
func Pair(h histories.History) (*Paired, error) {
	pairs, err := histories.Pairs(h, "")
	if err != nil {
		return nil, err
	}
	at := make([]int32, len(h))
	for i := range at {
		at[i] = -1
	}
	for i, p := range pairs {
		at[p.Invoke] = int32(i)
		if p.Complete != histories.Open {
			at[p.Complete] = int32(i)
		}
	}
	return &Paired{H: h, Pairs: pairs, PairAt: at}, nil
}

// Outcome is how pair i completed: OK, Fail or Info (Info when it never
// completed).
func (p *Paired) Outcome(i int) histories.Type { return p.H.Outcome(p.Pairs[i]) }

// Inv is pair i's invocation.
func (p *Paired) Inv(i int) *histories.Op { return &p.H[p.Pairs[i].Invoke] }

// Comp is pair i's completion, nil when it never completed.
func (p *Paired) Comp(i int) *histories.Op {
	if c := p.Pairs[i].Complete; c != histories.Open {
		return &p.H[c]
	}
	return nil
}

// CompareKeys orders keys naturally: integers by value before other text.
func CompareKeys(a, b string) int {
	ia, ea := strconv.ParseInt(a, 10, 64)
	ib, eb := strconv.ParseInt(b, 10, 64)
	switch {
	case ea == nil && eb == nil:
		return cmpOrdered(ia, ib)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// Timeline says when ops happened, in seconds since the start of the
// history (its earliest time), as the linearizability checker's reports
// do. A history whose times are not nanoseconds (a Jepsen log's line
// numbers, or times too small to be a real test's) has positions: its ops
// are placed by index alone.
type Timeline struct {
	Origin    int64
	Positions bool
}

// NewTimeline reads h's times.
func NewTimeline(h histories.History) Timeline {
	if len(h) == 0 {
		return Timeline{Positions: true}
	}
	t := Timeline{Origin: h[0].Time}
	lines := true
	var maxT int64
	for i := range h {
		op := &h[i]
		t.Origin = min(t.Origin, op.Time)
		maxT = max(maxT, op.Time)
		if op.Line == 0 || op.Time != int64(op.Line) {
			lines = false
		}
	}
	t.Positions = lines || maxT <= int64(10*len(h))
	return t
}

// Seconds is ns as seconds since the start, to the microsecond; nil when
// the history has positions, not times.
func (t Timeline) Seconds(ns int64) *float64 {
	if t.Positions {
		return nil
	}
	s := math.Round(float64(ns-t.Origin)/1e3) / 1e6
	return &s
}

// SecondsText is ns as "1.234567 s", or "" with positions.
func (t Timeline) SecondsText(ns int64) string {
	s := t.Seconds(ns)
	if s == nil {
		return ""
	}
	return strconv.FormatFloat(*s, 'f', -1, 64) + " s"
}

// Describe names an op in a summary: "op 41 (process 3, n2, 1.234 s)".
func (t Timeline) Describe(op *histories.Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "op %d (process %s", op.Index, op.Process)
	if op.Node != "" {
		b.WriteString(", " + op.Node)
	}
	if s := t.SecondsText(op.Time); s != "" {
		b.WriteString(", " + s)
	}
	b.WriteString(")")
	return b.String()
}

// Ref is pair i as results.json lists it (checker.OpRef): Index and Line
// are the completion's, or the invocation's when the op never completed
// or ended in info. The value is the completion's when it is OK and
// readValue, else the invocation's; withValue false leaves it out (a
// set's whole read).
func (t Timeline) Ref(p *Paired, i int, withValue, readValue bool) checker.OpRef {
	inv := p.Inv(i)
	r := checker.OpRef{Index: inv.Index, Line: int(inv.Line), InvokeIndex: inv.Index, Process: inv.Process, F: inv.F, Key: inv.Key, Type: "info", Node: inv.Node}
	if withValue {
		r.Value = inv.Value
	}
	r.Invoked = t.Seconds(inv.Time)
	if c := p.Comp(i); c != nil {
		r.Type, r.Error = c.Type.String(), c.Error
		if c.Node != "" {
			r.Node = c.Node
		}
		if c.Type != histories.Info {
			r.Index, r.Line = c.Index, int(c.Line)
			r.Completed = t.Seconds(c.Time)
		}
		if withValue && readValue && c.Type == histories.OK {
			r.Value = c.Value
		}
	}
	return r
}

// Node is the node that served pair i: its completion's, else its
// invocation's ("" when the history does not say).
func (p *Paired) Node(i int) string {
	if c := p.Comp(i); c != nil && c.Node != "" {
		return c.Node
	}
	return p.Inv(i).Node
}

// Quantiles is Jepsen's frequency-distribution: for each point p of 0, 0.5,
// 0.95, 0.99 and 1, the value at index min(n-1, floor(n·p)) of the sorted
// values; nil for no values. vs is sorted in place.
func Quantiles(vs []float64) map[string]float64 {
	if len(vs) == 0 {
		return nil
	}
	slices.Sort(vs)
	n := len(vs)
	out := make(map[string]float64, 5)
	for _, p := range []float64{0, 0.5, 0.95, 0.99, 1} {
		i := min(n-1, int(math.Floor(float64(n)*p)))
		out[strconv.FormatFloat(p, 'g', -1, 64)] = vs[i]
	}
	return out
}

// Poll checks ctx every 1<<16 calls: a long loop calls it once per op.
type Poll struct {
	Ctx context.Context
	n   int
}

// Done reports whether ctx is done (checked every 65536 calls).
func (p *Poll) Done() bool {
	p.n++
	if p.n&(1<<16-1) != 0 || p.Ctx == nil {
		return false
	}
	return p.Ctx.Err() != nil
}

// Interrupted is the Result of a check whose context ended before it did:
// unknown, never valid.
func Interrupted(name string, ctx context.Context) checker.Result {
	return checker.Result{Valid: checker.Unknown, Summary: fmt.Sprintf("unknown: the %s check was interrupted (%v) before it looked at the whole history", name, context.Cause(ctx))}
}

// List joins up to max items and says how many more there were.
func List(items []string, total, max int) string {
	if len(items) > max {
		items = items[:max]
	}
	s := strings.Join(items, "; ")
	if total > len(items) {
		s += fmt.Sprintf("; and %d more", total-len(items))
	}
	return s
}

// Plural is "1 element" or "3 elements".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// MaxListed is how many elements or ops a Details list holds; the counts
// are always whole.
const MaxListed = 100

// MaxNamed is how many a Summary names.
const MaxNamed = 5

// Groups splits the client pairs by key: the keys in natural order (see
// Keys) and each key's pair indexes, in invocation order.
func (p *Paired) Groups() (keys []string, byKey map[string][]int) {
	byKey = map[string][]int{}
	for i, pr := range p.Pairs {
		k := p.H[pr.Invoke].Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	slices.SortFunc(keys, CompareKeys)
	return keys, byKey
}

// KeyPrefix is "key k: " for a keyed history's summary lines, "" for the
// key "".
func KeyPrefix(k string) string {
	if k == "" {
		return ""
	}
	return "key " + k + ": "
}

// RefText is an OpRef in a summary: "op 12 (process 3, n1, 0.5 s)", with
// the completion's time, or the invocation's when it has none.
func RefText(r checker.OpRef, tl Timeline) string {
	s := fmt.Sprintf("op %d (process %s", r.Index, r.Process)
	if r.Node != "" {
		s += ", " + r.Node
	}
	t := r.Completed
	if t == nil {
		t = r.Invoked
	}
	if t != nil && !tl.Positions {
		s += ", " + strconv.FormatFloat(*t, 'f', -1, 64) + " s"
	}
	return s + ")"
}

// Keyed is the per-key part of a workload checker's Details (embedded, so
// its fields sit beside the checker's own in results.json): how many keys
// a keyed history holds (Jepsen's independent keys) and which of them
// were invalid or undecided.
type Keyed struct {
	Keys        int      `json:"keys,omitempty"`
	FailedKeys  []string `json:"failed-keys,omitempty"`
	UnknownKeys []string `json:"unknown-keys,omitempty"`
}

// Note records key's verdict v when the history is keyed, and returns v
// for the caller to merge.
func (k *Keyed) Note(keyed bool, key string, v checker.Validity) checker.Validity {
	if keyed {
		switch v {
		case checker.Invalid:
			k.FailedKeys = append(k.FailedKeys, key)
		case checker.Unknown:
			k.UnknownKeys = append(k.UnknownKeys, key)
		}
	}
	return v
}
