package txn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/faultline-dev/faultline/histories"
)

// Details is the transactional checker's account, in Result.Details.
type Details struct {
	Workload         string `json:"workload"`
	ConsistencyModel string `json:"consistency_model"`
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
	// explained cases.
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

// reporter collects anomalies: every case is counted, the first max of each
// type explained.
type reporter struct {
	p     *parsed
	max   int
	types map[string]*Anomaly
}

func newReporter(p *parsed, max int) *reporter {
	return &reporter{p: p, max: max, types: map[string]*Anomaly{}}
}

// add counts a case of typ and, while fewer than max are explained, calls
// explain for it.
func (r *reporter) add(typ string, explain func(c *caseBuilder)) {
	a := r.types[typ]
	if a == nil {
		a = &Anomaly{Type: typ}
		r.types[typ] = a
	}
	a.Count++
	if len(a.Cases) < r.max {
		b := &caseBuilder{p: r.p, c: Case{Type: typ}, names: map[int32]string{}}
		explain(b)
		a.Cases = append(a.Cases, b.c)
	}
}

func (r *reporter) list() []Anomaly {
	out := make([]Anomaly, 0, len(r.types))
	for _, a := range r.types {
		out = append(out, *a)
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
