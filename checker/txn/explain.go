package txn

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/faultline-dev/faultline/histories"
)

// Details is the transactional checker's account, in Result.Details.
type Details struct {
	Workload         string `json:"workload"`
	ConsistencyModel string `json:"consistency_model"`
	// AnomaliesAsked are Options.Anomalies as given.
	AnomaliesAsked []string `json:"anomalies_asked,omitempty"`
	// AnomaliesSearched is every anomaly type the check looked for
	// (sorted): those the model prohibits and those asked for, with every
	// anomaly that implies them, that this workload can show. Only these
	// are reported, besides the conditions that make a verdict unknown
	// (empty-transaction-graph, cycle-search-timeout) and, when the search
	// did not finish, the "cycle exists" fallbacks in scope.
	AnomaliesSearched []string `json:"anomalies_searched"`
	// WFRKeys: rw-register inferred version order from writes following
	// reads (Options.WFRKeys).
	WFRKeys bool `json:"wfr_keys,omitempty"`
	// ProcessEdges and RealtimeEdges say whether process order and
	// real-time order were part of the graph: only when a class searched
	// for needs them.
	ProcessEdges  bool `json:"process_edges"`
	RealtimeEdges bool `json:"realtime_edges"`
	// Txns counts the transactions by outcome.
	Txns TxnCounts `json:"txns"`
	Keys int       `json:"keys"`
	// Edges is the number of dependency edges (pairs of transactions) and
	// SCCs the number of strongly connected components of two or more
	// transactions, i.e. the places where cycles live.
	Edges      int `json:"edges"`
	SCCs       int `json:"sccs"`
	LargestSCC int `json:"largest_scc,omitempty"`
	// Anomalies, by type (sorted), each with up to Options.MaxCases
	// explained cases: the earliest and the latest in the history, in
	// history order.
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	// Unknown says why the verdict could not be decided, if it could not.
	Unknown []string `json:"unknown,omitempty"`
	_       struct{}
}

// TxnCounts counts transactions by outcome.
type TxnCounts struct {
	OK   int `json:"ok"`
	Info int `json:"info"`
	Fail int `json:"fail"`
}

// Anomaly is every case of one anomaly type that was found: Count of them,
// of which Cases are explained.
type Anomaly struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
	Cases []Case `json:"cases"`
}

// Case is one instance of an anomaly, explained.
type Case struct {
	Type string `json:"type"`
	// Txns are the transactions involved, named T1, T2, … in Steps and
	// Explanation.
	Txns []Txn `json:"txns"`
	// Steps are a cycle's edges in order, the last leading back to the
	// first transaction; empty for anomalies that are not cycles.
	Steps []Step `json:"steps,omitempty"`
	// Key is the key involved, for anomalies about one key.
	Key string `json:"key,omitempty"`
	// Explanation is a step-by-step account for people.
	Explanation string `json:"explanation"`
}

// Txn is a transaction as an explanation names it.
type Txn struct {
	Name string `json:"name"`
	// Index is the history index of its completion (of its invocation if
	// it never completed); InvokeIndex that of its invocation.
	Index       int64  `json:"index"`
	InvokeIndex int64  `json:"invoke_index"`
	Process     int    `json:"process"`
	Type        string `json:"type"` // ok, info or fail
	// Ops are its micro-ops as the history has them.
	Ops any `json:"ops"`
}

// Step is one edge of a cycle: From precedes To because of Type (ww, wr,
// rw, process or realtime).
type Step struct {
	From string `json:"from"`
	To   string `json:"to"`
	Type string `json:"type"`
	Key  string `json:"key,omitempty"`
	// Value is what From wrote (ww, wr) or read (rw) of Key; Next is what To
	// wrote (ww, rw) or read (wr).
	Value any `json:"value"`
	Next  any `json:"next"`
	// Process is the process of a process-order step; FromIndex and ToIndex
	// are the completion of From and the invocation of To of a real-time
	// step.
	Process   *int   `json:"process,omitempty"`
	FromIndex *int64 `json:"from_index,omitempty"`
	ToIndex   *int64 `json:"to_index,omitempty"`
	Text      string `json:"text"`
}

// reporter collects anomalies: every case is counted and explained, and
// of each type the first and the last max/2 cases in history order (by
// their earliest transaction) are kept, so that the examples span the
// whole run, not only where the search began.
type reporter struct {
	p     *parsed
	max   int
	types map[string]*kept
	// scope, if set, is the anomaly types to keep; others are dropped
	// unexplained.
	scope map[string]bool
}

// kept are one type's cases: the earliest and the latest by position.
type kept struct {
	a           Anomaly
	first, last []keptCase // each sorted by position, at most max/2 (first gets the odd one)
	seq         int
}

type keptCase struct {
	pos int64 // the earliest transaction's history index
	seq int   // order found, to tell a case kept twice
	c   Case
	// explain, if not nil, explains c when the case is listed (see
	// addAt).
	explain func(*caseBuilder)
}

// maxExplained bounds the cases of one type explained; beyond it they are
// counted, and the examples come from the first maxExplained found.
const maxExplained = 100_000

func newReporter(p *parsed, max int) *reporter {
	return &reporter{p: p, max: max, types: map[string]*kept{}}
}

// add counts a case of typ and explains it, keeping it if it is among the
// earliest or the latest so far.
func (r *reporter) add(typ string, explain func(c *caseBuilder)) {
	r.addAt(typ, -1, explain)
}

// addAt is add of a case whose position in the history (see casePos) is
// known before it is explained, pos ≥ 0: it is explained only if it is
// still kept when the cases are listed, so that a history with many
// cases of a type pays for explaining only those shown. explain must
// then not depend on what changes after the call.
func (r *reporter) addAt(typ string, pos int64, explain func(c *caseBuilder)) {
	if r.scope != nil && !r.scope[typ] {
		return
	}
	k := r.types[typ]
	if k == nil {
		k = &kept{a: Anomaly{Type: typ}}
		r.types[typ] = k
	}
	k.a.Count++
	if k.a.Count > maxExplained || r.max <= 0 {
		return
	}
	kc := keptCase{pos: pos, seq: k.seq, explain: explain}
	if pos < 0 {
		b := &caseBuilder{p: r.p, c: Case{Type: typ}, names: map[int32]string{}}
		explain(b)
		kc.pos, kc.c, kc.explain = casePos(b.c), b.c, nil
	}
	k.seq++
	nFirst, nLast := (r.max+1)/2, r.max/2
	// The earliest: sorted ascending, drop the latest when full.
	if len(k.first) < nFirst || kc.pos < k.first[len(k.first)-1].pos {
		i := sort.Search(len(k.first), func(i int) bool { return k.first[i].pos > kc.pos })
		k.first = slices.Insert(k.first, i, kc)
		if len(k.first) > nFirst {
			k.first = k.first[:nFirst]
		}
	}
	// The latest: sorted ascending, drop the earliest when full.
	if nLast > 0 && (len(k.last) < nLast || kc.pos >= k.last[0].pos) {
		i := sort.Search(len(k.last), func(i int) bool { return k.last[i].pos > kc.pos })
		k.last = slices.Insert(k.last, i, kc)
		if len(k.last) > nLast {
			k.last = k.last[1:]
		}
	}
}

// lazyPosWrong counts the cases explained lazily whose position was not
// the one they were kept by (none, unless addAt's caller is wrong).
var lazyPosWrong atomic.Int64

// casePos is where a case begins in the history: its earliest
// transaction's index.
func casePos(c Case) int64 {
	pos := int64(math.MaxInt64)
	for _, t := range c.Txns {
		pos = min(pos, t.InvokeIndex, t.Index)
	}
	return pos
}

func (r *reporter) list() []Anomaly {
	out := make([]Anomaly, 0, len(r.types))
	for _, k := range r.types {
		a := k.a
		seen := map[int]bool{}
		for _, kc := range append(slices.Clone(k.first), k.last...) {
			if !seen[kc.seq] {
				seen[kc.seq] = true
				if kc.explain != nil {
					b := &caseBuilder{p: r.p, c: Case{Type: a.Type}, names: map[int32]string{}}
					kc.explain(b)
					kc.c = b.c
					if casePos(b.c) != kc.pos {
						lazyPosWrong.Add(1) // a bug: TestLazyCyclesSame
					}
				}
				a.Cases = append(a.Cases, kc.c)
			}
		}
		slices.SortStableFunc(a.Cases, func(x, y Case) int { return cmp.Compare(casePos(x), casePos(y)) })
		if a.Cases == nil {
			a.Cases = []Case{}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

func (r *reporter) typeNames() []string {
	out := make([]string, 0, len(r.types))
	for t := range r.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// caseBuilder names transactions T1, T2, … in the order they are mentioned
// and writes the explanation.
type caseBuilder struct {
	p     *parsed
	c     Case
	names map[int32]string
	lines []string
}

// name is the transaction's name, introducing it (index, process) the
// first time.
func (b *caseBuilder) name(ti int32) string {
	if n, ok := b.names[ti]; ok {
		return n
	}
	n := fmt.Sprintf("T%d", len(b.names)+1)
	b.names[ti] = n
	b.c.Txns = append(b.c.Txns, b.p.txnRef(ti, n))
	return n
}

// intro is the name with where to find it, for first mentions.
func (b *caseBuilder) intro(ti int32) string {
	_, known := b.names[ti]
	n := b.name(ti)
	if known {
		return n
	}
	t := &b.p.txns[ti]
	s := fmt.Sprintf("%s (index %d, process %d", n, b.p.txnIndex(ti), t.proc)
	switch t.st {
	case stInfo:
		s += ", outcome unknown"
	case stFail:
		s += ", failed"
	}
	return s + ")"
}

func (b *caseBuilder) say(format string, args ...any) {
	b.lines = append(b.lines, fmt.Sprintf(format, args...))
}

func (b *caseBuilder) done() {
	var sb strings.Builder
	for i, l := range b.lines {
		if i > 0 {
			sb.WriteString("\n")
		}
		sb.WriteString(l)
	}
	b.c.Explanation = sb.String()
}

func (p *parsed) txnIndex(ti int32) int64 {
	t := &p.txns[ti]
	if t.cmp >= 0 {
		return p.h[t.cmp].Index
	}
	return p.h[t.inv].Index
}

var stNames = [...]string{stOK: "ok", stInfo: "info", stFail: "fail"}

func (p *parsed) txnRef(ti int32, name string) Txn {
	t := &p.txns[ti]
	return Txn{
		Name: name, Index: p.txnIndex(ti), InvokeIndex: p.h[t.inv].Index,
		Process: int(t.proc), Type: stNames[t.st], Ops: p.txnValue(ti),
	}
}

// fv formats a value for people: 3, "s", [1 2], nil.
func fv(v any) string { return histories.FormatValue(v) }

// fvs formats values as a list, or the value alone if there is one.
func fvs(vs []any) string {
	if len(vs) == 1 {
		return fv(vs[0])
	}
	return fv(vs)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// elemValue is the value of an element.
func (p *parsed) elemValue(s int32) any { return p.codes.value(p.elems[s].v) }
