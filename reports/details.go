package reports

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// Checkers' Details arrive either as the checker's own Go value (a report
// written right after a check) or as the generic JSON of results.json. Both
// are read through JSON, so one decoder serves both.

func viaJSON(v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func asMap(v any) map[string]any {
	var m map[string]any
	if v == nil || viaJSON(v, &m) != nil {
		return nil
	}
	return m
}

// linearizableDetails reads the linearizability checker's Details; ok is
// false when they are absent or of another shape.
func linearizableDetails(r checker.Result) (checker.LinearizableDetails, bool) {
	var d checker.LinearizableDetails
	if r.Details == nil || viaJSON(r.Details, &d) != nil || d.Model == "" {
		return d, false
	}
	return d, true
}

// opView is an operation as a table row shows it.
type opView struct {
	ID          string // how cycle steps name it: "T1"…
	Index       int64  // -1 unknown
	InvokeIndex int64  // its invocation's index; -1 unknown
	// Invoked and Completed are when, since the start of the history
	// (filled from the history when it has timestamps).
	Invoked, Completed string
	Line               int
	Process            string
	Node               string // the node that served it, when the history says
	Type               string
	F                  string
	Key                string
	Value              string
	Error              string
}

func opFromRef(r checker.OpRef) opView {
	o := opView{Index: r.Index, InvokeIndex: r.InvokeIndex, Line: r.Line, Process: r.Process.String(), Node: r.Node, Type: r.Type, F: r.F, Key: r.Key,
		Value: truncate(histories.FormatValue(r.Value), 300), Error: r.Error}
	if r.Invoked != nil {
		o.Invoked = secondsText(*r.Invoked)
	}
	if r.Completed != nil {
		o.Completed = secondsText(*r.Completed)
	}
	return o
}

// secondsText is a time of an explanation: "12.905 s", to the millisecond
// as the explanation's text says it.
func secondsText(s float64) string {
	return strconv.FormatFloat(s, 'f', 3, 64) + " s"
}

// opFromMap reads an op-like JSON object: {index, process, type, f, value…}.
func opFromMap(m map[string]any) (opView, bool) {
	o := opView{Index: -1, InvokeIndex: -1}
	found := false
	if v, ok := num(m["index"]); ok {
		o.Index, found = int64(v), true
	}
	if v, ok := num(m["invoke_index"]); ok {
		o.InvokeIndex = int64(v)
	}
	if v, ok := num(m["line"]); ok {
		o.Line = int(v)
	}
	if p, ok := m["process"]; ok {
		o.Process, found = scalarText(p), true
	}
	if t, ok := m["type"].(string); ok {
		o.Type = t
	}
	if f, ok := m["f"].(string); ok {
		o.F, found = f, true
	}
	if k, ok := m["key"]; ok && k != nil {
		o.Key = scalarText(k)
	}
	if n, ok := m["name"].(string); ok {
		o.ID = n
	}
	if v, ok := m["value"]; ok {
		o.Value = truncate(histories.FormatValue(normalize(v)), 300)
	} else if v, ok := m["ops"]; ok {
		// A transaction's micro-ops.
		o.Value, found = truncate(formatMops(normalize(v)), 300), true
		if o.F == "" {
			o.F = "txn"
		}
	}
	if e, ok := m["error"]; ok && e != nil {
		o.Error = scalarText(e)
	}
	return o, found
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return trimFloat(x, 6)
	case nil:
		return ""
	}
	return histories.FormatValue(normalize(v))
}

// normalize turns JSON's float64 integers back into int64 so values print
// as the history wrote them.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// stepView is one edge of a dependency cycle: From depends on To's… as the
// checker names it (ww, wr, rw, realtime, process).
type stepView struct {
	From, To    string
	Edge        string
	Key         string
	Explanation string
}

// anomalyView is one anomaly found by a transactional checker.
type anomalyView struct {
	Type        string
	Key         string // the key involved, for anomalies about one key
	Explanation string
	Ops         []opView
	Steps       []stepView
	Cycle       string // the SVG diagram of Steps
	Raw         string // the anomaly's JSON when nothing above could be read
}

// txnView is what a transactional checker's Details say.
type txnView struct {
	Claimed   string // the consistency model the system claims, if said
	Anomalies []anomalyView
	Cut       int // anomalies listed by the checker beyond those shown
	// Unexplained says, per type, how many cases were found beyond those
	// the checker explained; Unknown why it could not decide, if so.
	Unexplained []string
	Unknown     []string
}

// maxAnomaliesShown bounds the anomalies drawn (each may carry a diagram).
const maxAnomaliesShown = 50

// readTxnDetails reads a transactional checker's Details: an "anomalies"
// list of objects (or a map from anomaly type to a list, as Elle writes
// them), each with an explanation, the operations involved and the steps
// of its cycle. Names vary between checkers, so a few synonyms are read.
func readTxnDetails(details any) (txnView, bool) {
	m := asMap(details)
	if m == nil {
		return txnView{}, false
	}
	var v txnView
	for _, k := range []string{"consistency_model", "claimed", "claimed_model", "model"} {
		if s, ok := m[k].(string); ok {
			v.Claimed = s
			break
		}
	}
	raw, ok := m["anomalies"]
	if !ok {
		return v, v.Claimed != ""
	}
	type typed struct {
		typ string
		obj any
	}
	var list []typed
	switch x := raw.(type) {
	case []any:
		for _, e := range x {
			list = append(list, typed{"", e})
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if items, ok := x[k].([]any); ok {
				for _, e := range items {
					list = append(list, typed{k, e})
				}
			} else {
				list = append(list, typed{k, x[k]})
			}
		}
	}
	// faultline's txn checker groups cases under each anomaly type:
	// {"type", "count", "cases": [...]}; flatten them.
	var flat []typed
	for _, t := range list {
		m, ok := t.obj.(map[string]any)
		cases, hasCases := m["cases"].([]any)
		if !ok || !hasCases {
			flat = append(flat, t)
			continue
		}
		typ := firstString(m, "type")
		if typ == "" {
			typ = t.typ
		}
		for _, c := range cases {
			flat = append(flat, typed{typ, c})
		}
		if n, ok := num(m["count"]); ok && int(n) > len(cases) {
			v.Unexplained = append(v.Unexplained, fmt.Sprintf("%s: %d found; these are the earliest and the latest %d in the history", typ, int(n), len(cases)))
		}
	}
	for i, t := range flat {
		if i == maxAnomaliesShown {
			v.Cut = len(flat) - i
			break
		}
		v.Anomalies = append(v.Anomalies, readAnomaly(t.typ, t.obj))
	}
	if u, ok := m["unknown"].([]any); ok {
		for _, x := range u {
			v.Unknown = append(v.Unknown, scalarText(x))
		}
	}
	return v, true
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func firstList(m map[string]any, keys ...string) []any {
	for _, k := range keys {
		if l, ok := m[k].([]any); ok {
			return l
		}
	}
	return nil
}

func readAnomaly(typ string, obj any) anomalyView {
	a := anomalyView{Type: typ}
	m, ok := obj.(map[string]any)
	if !ok {
		a.Explanation = scalarText(obj)
		return a
	}
	if t := firstString(m, "type", "name", "anomaly"); t != "" {
		a.Type = t
	}
	a.Key = scalarText(m["key"])
	a.Explanation = firstString(m, "explanation", "explain", "description", "message", "summary")
	for _, o := range firstList(m, "ops", "txns", "transactions", "operations") {
		if om, ok := o.(map[string]any); ok {
			if ov, ok := opFromMap(om); ok {
				a.Ops = append(a.Ops, ov)
			}
		}
	}
	steps := firstList(m, "steps", "edges")
	if steps == nil {
		switch c := m["cycle"].(type) {
		case []any:
			steps = c
		case map[string]any:
			steps = firstList(c, "steps", "edges")
			if len(a.Ops) == 0 {
				for _, o := range firstList(c, "ops", "txns") {
					if om, ok := o.(map[string]any); ok {
						if ov, ok := opFromMap(om); ok {
							a.Ops = append(a.Ops, ov)
						}
					}
				}
			}
		}
	}
	for _, s := range steps {
		sm, ok := s.(map[string]any)
		if !ok {
			continue
		}
		if _, hasFrom := sm["from"]; !hasFrom {
			// A cycle given as a list of ops, not of steps.
			if ov, ok := opFromMap(sm); ok && len(a.Ops) < 64 {
				a.Ops = append(a.Ops, ov)
			}
			continue
		}
		st := stepView{
			From:        a.nodeID(sm["from"]),
			To:          a.nodeID(sm["to"]),
			Edge:        firstString(sm, "type", "edge", "rel", "kind", "relation"),
			Key:         scalarText(sm["key"]),
			Explanation: firstString(sm, "text", "explanation", "why", "description"),
		}
		a.Steps = append(a.Steps, st)
	}
	a.nameOps()
	if a.Explanation == "" && len(a.Ops) == 0 && len(a.Steps) == 0 {
		b, _ := json.MarshalIndent(m, "", "  ")
		a.Raw = truncate(string(b), 4000)
	}
	return a
}

// nodeID names a cycle node: an op object or a history index becomes the
// op (added to Ops if new); anything else is shown as given.
func (a *anomalyView) nodeID(v any) string {
	switch x := v.(type) {
	case map[string]any:
		ov, ok := opFromMap(x)
		if !ok {
			return scalarText(x)
		}
		for i := range a.Ops {
			if a.Ops[i].Index == ov.Index && ov.Index >= 0 {
				return "#" + strconv.FormatInt(ov.Index, 10)
			}
		}
		a.Ops = append(a.Ops, ov)
		if ov.Index >= 0 {
			return "#" + strconv.FormatInt(ov.Index, 10)
		}
		return fmt.Sprintf("op%d", len(a.Ops))
	case float64:
		return "#" + strconv.FormatInt(int64(x), 10)
	}
	return scalarText(v)
}

// nameOps gives every op a short name, T1, T2… in order of appearance, and
// rewrites steps that named ops by history index (#i) or by position in
// Ops to use it.
func (a *anomalyView) nameOps() {
	byIndex := map[string]string{}
	for i := range a.Ops {
		if a.Ops[i].ID == "" {
			a.Ops[i].ID = "T" + strconv.Itoa(i+1)
		}
		if a.Ops[i].Index >= 0 {
			byIndex["#"+strconv.FormatInt(a.Ops[i].Index, 10)] = a.Ops[i].ID
		}
	}
	rename := func(s string) string {
		if id, ok := byIndex[s]; ok {
			return id
		}
		if strings.HasPrefix(s, "#") {
			// A number that names no op's index: a position in Ops?
			if n, err := strconv.Atoi(s[1:]); err == nil && n >= 0 && n < len(a.Ops) && len(byIndex) == 0 {
				return a.Ops[n].ID
			}
		}
		return s
	}
	for i := range a.Steps {
		a.Steps[i].From, a.Steps[i].To = rename(a.Steps[i].From), rename(a.Steps[i].To)
	}
}

// isTransactional says whether a checker's result is a transactional
// (Elle-style) one, which gets the model table and anomaly sections.
func isTransactional(name string, r checker.Result) bool {
	switch name {
	case "append", "list-append", "rw-register", "txn", "elle":
		return true
	}
	if len(r.Not) > 0 || len(r.AlsoNot) > 0 {
		return true
	}
	m := asMap(r.Details)
	_, ok := m["anomalies"]
	return ok
}

// modelRow is one consistency model in the table.
type modelRow struct {
	Name    string
	About   string
	Status  string // "ruled-out", "follows", "held"
	Claimed bool
}

// knownModels are the models every transactional report lists, weakest
// first, with what each forbids in a few words. Models the checker rules
// out that are not here are added to the table.
var knownModels = []struct{ name, about string }{
	{"read-uncommitted", "no dirty writes (G0: a cycle of write-write dependencies)"},
	{"read-committed", "no dirty or aborted reads (G1a, G1b) and no cycles of writes and reads (G1c)"},
	{"monotonic-atomic-view", "once a transaction sees one write of another, it sees all of them"},
	{"cursor-stability", "read committed, and no lost updates on a key read through a cursor"},
	{"monotonic-view", "read committed, and the writes one sees only ever grow"},
	{"consistent-view", "read committed, and no cycle with a single anti-dependency (G-single)"},
	{"repeatable-read", "no item anti-dependency cycles (G2-item): reads of a key stay put"},
	{"snapshot-isolation", "every transaction reads one snapshot; no lost updates or G-single"},
	{"update-serializable", "serializable for the transactions that write"},
	{"serializable", "some total order of transactions explains every read (no G2)"},
	{"strong-session-snapshot-isolation", "snapshot isolation that respects each process's own order"},
	{"strong-session-serializable", "serializable in an order that respects each process's own order"},
	{"strong-snapshot-isolation", "snapshot isolation that respects real time"},
	{"strict-serializable", "serializable in an order that respects real time"},
}

// modelTable builds the rows: ruled out (Not), ruled out because a weaker
// model is (AlsoNot), or consistent with the history.
func modelTable(not, alsoNot []string, claimed string) []modelRow {
	status := map[string]string{}
	for _, m := range alsoNot {
		status[m] = "follows"
	}
	for _, m := range not {
		status[m] = "ruled-out"
	}
	var rows []modelRow
	seen := map[string]bool{}
	for _, k := range knownModels {
		st := status[k.name]
		if st == "" {
			st = "held"
		}
		rows = append(rows, modelRow{Name: k.name, About: k.about, Status: st, Claimed: k.name == claimed})
		seen[k.name] = true
	}
	extra := append(slices.Clone(not), alsoNot...)
	if claimed != "" {
		extra = append(extra, claimed)
	}
	for _, m := range extra {
		if seen[m] {
			continue
		}
		seen[m] = true
		st := status[m]
		if st == "" {
			st = "held"
		}
		rows = append(rows, modelRow{Name: m, Status: st, Claimed: m == claimed})
	}
	return rows
}

// formatMops writes a transaction's micro-ops as Elle does, without quotes:
// [append x 3] [r y [1 2]].
func formatMops(v any) string {
	mops, ok := v.([]any)
	if !ok {
		return histories.FormatValue(v)
	}
	var b strings.Builder
	for i, m := range mops {
		if i > 0 {
			b.WriteByte(' ')
		}
		mop, ok := m.([]any)
		if !ok {
			b.WriteString(histories.FormatValue(m))
			continue
		}
		b.WriteByte('[')
		for j, e := range mop {
			if j > 0 {
				b.WriteByte(' ')
			}
			if s, ok := e.(string); ok {
				b.WriteString(s)
			} else {
				b.WriteString(histories.FormatValue(e))
			}
		}
		b.WriteByte(']')
	}
	return b.String()
}
