package txn

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

func readHistory(t testing.TB, name string) histories.History {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "txn", name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := histories.ReadJSONL(f, path)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func fields(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

// Every hand-built history in testdata/txn is classified exactly: its
// anomaly types, the weakest models it rules out, and the verdict under the
// default model (strict-serializable).
func TestClassification(t *testing.T) {
	cases := []struct {
		file, workload string
		types, not     string
		valid          checker.Validity
		wfr            bool // Options.WFRKeys
	}{
		{"G0.jsonl", "append", "G0", "read-uncommitted", checker.Invalid, false},
		{"G1a.jsonl", "append", "G1a", "read-committed", checker.Invalid, false},
		{"G1b.jsonl", "rw-register", "G1b", "read-committed", checker.Invalid, false},
		{"G1c.jsonl", "append", "G1c", "read-committed", checker.Invalid, false},
		// Every anti-dependency is on an item: Elle's -item classes. An
		// item G-single or G-nonadjacent is also G2-item, so it rules out
		// repeatable read too.
		{"G-single.jsonl", "append", "G-single-item", "consistent-view repeatable-read", checker.Invalid, false},
		{"G-nonadjacent.jsonl", "append", "G-nonadjacent-item", "repeatable-read snapshot-isolation", checker.Invalid, false},
		{"G2-item.jsonl", "append", "G2-item", "repeatable-read", checker.Invalid, false},
		{"G2-item-register.jsonl", "rw-register", "G2-item", "repeatable-read", checker.Invalid, false},
		{"G-single-process.jsonl", "append", "G-single-item-process", "strong-session-snapshot-isolation", checker.Invalid, false},
		// The -process and -realtime variants: cycles that only a
		// process's or real time's order closes.
		{"G0-process.jsonl", "append", "G0-process", "strong-session-read-uncommitted", checker.Invalid, false},
		{"G0-realtime.jsonl", "append", "G0-realtime", "strong-read-uncommitted", checker.Invalid, false},
		{"G1c-process.jsonl", "append", "G1c-process", "strong-session-read-committed", checker.Invalid, false},
		{"G1c-realtime.jsonl", "append", "G1c-realtime", "strong-read-committed", checker.Invalid, false},
		{"G-nonadjacent-process.jsonl", "append", "G-nonadjacent-item-process", "strong-session-snapshot-isolation", checker.Invalid, false},
		{"G-nonadjacent-realtime.jsonl", "append", "G-nonadjacent-item-realtime", "strong-snapshot-isolation", checker.Invalid, false},
		{"G2-item-process.jsonl", "append", "G2-item-process", "strong-session-serializable", checker.Invalid, false},
		{"G2-item-realtime.jsonl", "append", "G2-item-realtime", "strict-serializable", checker.Invalid, false},
		{"G-single-realtime.jsonl", "append", "G-single-item-realtime", "strong-snapshot-isolation", checker.Invalid, false},
		{"internal.jsonl", "append", "internal", "read-atomic", checker.Invalid, false},
		{"dirty-update.jsonl", "append", "G1a dirty-update", "read-committed", checker.Invalid, false},
		// A lost update is always also a cycle: here T1 -ww-> T2 -rw-> T1.
		{"lost-update.jsonl", "append", "G-single-item lost-update", "cursor-stability update-atomic", checker.Invalid, false},
		{"duplicate-elements.jsonl", "append", "duplicate-elements", "read-uncommitted", checker.Invalid, false},
		{"incompatible-order.jsonl", "append", "incompatible-order", "read-committed", checker.Invalid, false},
		{"future-read.jsonl", "append", "future-read", "read-committed", checker.Invalid, false},
		// Versions in a cycle need reads of each other's writes: also G1c.
		// The versions are ordered only if writes follow reads (Elle's
		// :wfr-keys?); by default only the G1c is there to see.
		{"cyclic-versions.jsonl", "rw-register", "G1c cyclic-versions", "read-uncommitted", checker.Invalid, true},
		{"cyclic-versions.jsonl", "rw-register", "G1c", "read-committed", checker.Invalid, false},
		// Real histories from Elle's repository. Elle, without real-time
		// edges, reports G2-item for the first; the paper's example also
		// has a G-single-item through the ww edge an unread append implies,
		// which (as in Elle's search) makes the G2-item in the same
		// component redundant: G-single-item implies G2-item.
		{"elle-si-without-g-single.jsonl", "append", "G-single-item-realtime G2-item", "repeatable-read strong-snapshot-isolation", checker.Invalid, false},
		{"elle-paper-example.jsonl", "append", "G-single-item", "consistent-view repeatable-read", checker.Invalid, false},
		{"valid-append.jsonl", "append", "", "", checker.Valid, false},
		{"valid-rw-register.jsonl", "rw-register", "", "", checker.Valid, false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			h := readHistory(t, c.file)
			res, err := Check(h, Options{Workload: c.workload, WFRKeys: c.wfr})
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid != c.valid || !reflect.DeepEqual(res.AnomalyTypes, fields(c.types)) || !reflect.DeepEqual(res.Not, fields(c.not)) {
				t.Errorf("got %v %v not %v, want %v [%s] not [%s]\n%s", res.Valid, res.AnomalyTypes, res.Not, c.valid, c.types, c.not, res.Summary)
			}
			d := res.Details.(*Details)
			for _, a := range d.Anomalies {
				if a.Count < 1 || len(a.Cases) != a.Count {
					t.Errorf("%s: count %d, %d cases", a.Type, a.Count, len(a.Cases))
				}
				for _, cs := range a.Cases {
					if cs.Explanation == "" || len(cs.Txns) == 0 {
						t.Errorf("%s: case without explanation or transactions: %+v", a.Type, cs)
					}
				}
			}
			// Inferring the workload gives the same answer.
			if res2, err := Check(h, Options{WFRKeys: c.wfr}); err != nil || !reflect.DeepEqual(res2.AnomalyTypes, res.AnomalyTypes) {
				t.Errorf("inferred workload: %v %v", res2.AnomalyTypes, err)
			}
		})
	}
}

// The verdict depends on the model, and so do the anomalies searched for
// (Elle's :consistency-models and :anomalies): only those the model
// prohibits, and those asked for, are looked for and listed.
func TestConsistencyModelOption(t *testing.T) {
	cases := []struct {
		file, model string
		anomalies   []string
		valid       checker.Validity
		types       string
	}{
		{"G-single-realtime.jsonl", "strict-serializable", nil, checker.Invalid, "G-single-item-realtime"},
		{"G-single-realtime.jsonl", "strong-snapshot-isolation", nil, checker.Invalid, "G-single-item-realtime"},
		// No real-time edges are built for these claims, so the cycle
		// is not there to find.
		{"G-single-realtime.jsonl", "serializable", nil, checker.Valid, ""},
		{"G-single-realtime.jsonl", "snapshot-isolation", nil, checker.Valid, ""},
		{"G-single-process.jsonl", "strong-session-serializable", nil, checker.Invalid, "G-single-item-process"},
		{"G-single-process.jsonl", "serializable", nil, checker.Valid, ""},
		{"G-single-process.jsonl", "serializable", []string{"G-single-process"}, checker.Invalid, "G-single-item-process"},
		// Snapshot isolation allows write skew: G2-item is not looked
		// for unless asked for, and then it is a failure (Elle's
		// :anomalies), alone or as part of G2's family.
		{"G2-item.jsonl", "snapshot-isolation", nil, checker.Valid, ""},
		{"G2-item.jsonl", "snapshot-isolation", []string{"G2-item"}, checker.Invalid, "G2-item"},
		{"G2-item.jsonl", "snapshot-isolation", []string{"G2"}, checker.Invalid, "G2-item"},
		{"G2-item.jsonl", "repeatable-read", nil, checker.Invalid, "G2-item"},
		{"G-nonadjacent.jsonl", "snapshot-isolation", nil, checker.Invalid, "G-nonadjacent-item"},
		// An item G-nonadjacent is G2-item, which repeatable read
		// proscribes.
		{"G-nonadjacent.jsonl", "repeatable-read", nil, checker.Invalid, "G-nonadjacent-item"},
		{"G1c.jsonl", "read-uncommitted", nil, checker.Valid, ""},
		{"G1c.jsonl", "read-uncommitted", []string{"G1"}, checker.Invalid, "G1c"},
		{"G1c.jsonl", "read-committed", nil, checker.Invalid, "G1c"},
		{"G0.jsonl", "read-uncommitted", nil, checker.Invalid, "G0"},
		{"internal.jsonl", "read-committed", nil, checker.Valid, ""},
		{"internal.jsonl", "read-atomic", nil, checker.Invalid, "internal"},
		// Cursor stability proscribes lost-update but not G-single-item.
		{"lost-update.jsonl", "cursor-stability", nil, checker.Invalid, "lost-update"},
		{"elle-si-without-g-single.jsonl", "snapshot-isolation", nil, checker.Valid, ""},
		{"elle-si-without-g-single.jsonl", "repeatable-read", nil, checker.Invalid, "G2-item"},
	}
	for _, c := range cases {
		res, err := Check(readHistory(t, c.file), Options{ConsistencyModel: c.model, Anomalies: c.anomalies})
		if err != nil {
			t.Fatal(err)
		}
		if res.Valid != c.valid || !reflect.DeepEqual(res.AnomalyTypes, fields(c.types)) {
			t.Errorf("%s under %s %v: %v %v, want %v [%s]\n%s", c.file, c.model, c.anomalies, res.Valid, res.AnomalyTypes, c.valid, c.types, res.Summary)
		}
	}
	if _, err := Check(readHistory(t, "G0.jsonl"), Options{ConsistencyModel: "snapshot-isolaton"}); err == nil {
		t.Errorf("want an error for an unknown model")
	}
}

// A cycle's explanation names the transactions and gives each step as data
// for the report to draw.
func TestCycleExplanation(t *testing.T) {
	res, err := Check(readHistory(t, "G-single.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Details.(*Details).Anomalies[0].Cases[0]
	wantTxns := []Txn{
		{Name: "T1", Index: 2, InvokeIndex: 0, Process: 0, Type: "ok", Ops: []any{[]any{"append", "x", int64(1)}, []any{"append", "y", int64(1)}}},
		{Name: "T2", Index: 3, InvokeIndex: 1, Process: 1, Type: "ok", Ops: []any{[]any{"r", "x", []any{}}, []any{"r", "y", []any{int64(1)}}}},
	}
	if !reflect.DeepEqual(c.Txns, wantTxns) {
		t.Errorf("txns = %#v", c.Txns)
	}
	if len(c.Steps) != 2 {
		t.Fatalf("steps = %+v", c.Steps)
	}
	s0, s1 := c.Steps[0], c.Steps[1]
	if s0.From != "T1" || s0.To != "T2" || s0.Type != "wr" || s0.Key != "y" || s0.Value != int64(1) ||
		!reflect.DeepEqual(s0.Next, []any{int64(1)}) {
		t.Errorf("step 0 = %+v", s0)
	}
	if s1.From != "T2" || s1.To != "T1" || s1.Type != "rw" || s1.Key != "x" || !reflect.DeepEqual(s1.Value, []any{}) || s1.Next != int64(1) {
		t.Errorf("step 1 = %+v", s1)
	}
	for _, want := range []string{"T1 (index 2, process 0) appended 1 to y", "T2 (index 3, process 1) read y = [1]", "T2 < T1 (rw)", "(G-single"} {
		if !strings.Contains(c.Explanation, want) {
			t.Errorf("explanation lacks %q:\n%s", want, c.Explanation)
		}
	}
	// results.json carries it.
	b, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(b), `"type":"rw"`) {
		t.Errorf("json: %v %s", err, b)
	}
}

// Out of time, a history with cycles is never valid: the search says which
// cycles must exist, coarsely, and the verdict is invalid or unknown.
func TestTimeoutIsNeverValid(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		file, model string
		types       string
		valid       checker.Validity
	}{
		{"G2-item.jsonl", "strict-serializable", "PL-3-cycle-exists cycle-search-timeout", checker.Invalid},
		{"G-single-realtime.jsonl", "strict-serializable", "PL-SS-cycle-exists cycle-search-timeout", checker.Invalid},
		// Strong snapshot isolation does not proscribe the PL-SS cycle
		// the fallback finds: only the timeout is reported.
		{"G-single-realtime.jsonl", "strong-snapshot-isolation", "cycle-search-timeout", checker.Unknown},
		// Serializable needs no real-time edges: without them there is
		// no cycle, so nothing to search and the verdict is decided.
		{"G-single-realtime.jsonl", "serializable", "", checker.Valid},
		{"G2-item.jsonl", "snapshot-isolation", "cycle-search-timeout", checker.Unknown},
		{"valid-append.jsonl", "strict-serializable", "", checker.Valid},
	}
	for _, c := range cases {
		res, err := CheckContext(ctx, readHistory(t, c.file), Options{ConsistencyModel: c.model})
		if err != nil {
			t.Fatal(err)
		}
		if res.Valid != c.valid || !reflect.DeepEqual(res.AnomalyTypes, fields(c.types)) {
			t.Errorf("%s under %s: %v %v, want %v [%s]\n%s", c.file, c.model, res.Valid, res.AnomalyTypes, c.valid, c.types, res.Summary)
		}
	}
}

// Every case is counted; MaxCases of a type are kept, the earliest and the
// latest in the history, in history order.
func TestCaseCap(t *testing.T) {
	var h histories.History
	add := func(p int, typ histories.Type, v []any) {
		h = append(h, histories.Op{Index: int64(len(h)), Process: histories.Process(p), Type: typ, F: "txn", Value: v})
	}
	add(0, histories.Invoke, []any{[]any{"append", "x", int64(1)}})
	add(0, histories.Fail, []any{[]any{"append", "x", int64(1)}})
	for i := range 15 {
		add(1, histories.Invoke, []any{[]any{"r", "x", nil}})
		add(1, histories.OK, []any{[]any{"r", "x", []any{int64(1)}}})
		_ = i
	}
	res, err := Check(h, Options{Workload: "append", MaxCases: 10})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Details.(*Details).Anomalies
	if len(a) != 1 || a[0].Type != "G1a" || a[0].Count != 15 || len(a[0].Cases) != 10 {
		t.Fatalf("anomalies = %+v", a)
	}
	// The reads are at indexes 3, 5, …, 31: the first five and the last
	// five are kept.
	var reads []int64
	for _, c := range a[0].Cases {
		for _, tx := range c.Txns {
			if tx.Type == "ok" {
				reads = append(reads, tx.Index)
			}
		}
	}
	if want := []int64{3, 5, 7, 9, 11, 23, 25, 27, 29, 31}; !slices.Equal(reads, want) {
		t.Errorf("kept the reads at %v, want %v", reads, want)
	}
}

// A history the checker cannot interpret is an error naming the op.
func TestUninterpretable(t *testing.T) {
	op := func(i int, p int, typ histories.Type, f string, v any) histories.Op {
		return histories.Op{Index: int64(i), Process: histories.Process(p), Type: typ, F: f, Value: v, Line: int32(i + 1)}
	}
	ap := func(k string, v int64) []any { return []any{"append", k, v} }
	cases := []struct {
		name     string
		workload string
		h        histories.History
		want     string
	}{
		{"not a txn", "append", histories.History{op(0, 0, histories.Invoke, "read", nil), op(1, 0, histories.OK, "read", int64(1))},
			`line 1 (op index 0): op f is "read"`},
		{"bad micro-op", "append", histories.History{op(0, 0, histories.Invoke, "txn", []any{[]any{"cas", "x", int64(1)}}), op(1, 0, histories.OK, "txn", []any{[]any{"cas", "x", int64(1)}})},
			`line 2 (op index 1): micro-op 0, ["cas" "x" 1], is not ["append", key, value] or ["r", key, list]`},
		{"wrong workload", "rw-register", histories.History{op(0, 0, histories.Invoke, "txn", []any{ap("x", 1)}), op(1, 0, histories.OK, "txn", []any{ap("x", 1)})},
			`is not ["w", key, value] or ["r", key, value]`},
		{"duplicate append", "append", histories.History{
			op(0, 0, histories.Invoke, "txn", []any{ap("x", 1)}), op(1, 0, histories.OK, "txn", []any{ap("x", 1)}),
			op(2, 0, histories.Invoke, "txn", []any{ap("x", 1)}), op(3, 0, histories.OK, "txn", []any{ap("x", 1)})},
			`line 4 (op index 3): value 1 was already written to key x by the op at line 1`},
		{"completion differs", "append", histories.History{op(0, 0, histories.Invoke, "txn", []any{ap("x", 1)}), op(1, 0, histories.OK, "txn", []any{ap("x", 2)})},
			`line 2 (op index 1): micro-op 0, ["append" "x" 2], differs from its invocation's ["append" "x" 1] (line 1)`},
		{"read not a list", "append", histories.History{op(0, 0, histories.Invoke, "txn", []any{[]any{"r", "x", nil}}), op(1, 0, histories.OK, "txn", []any{[]any{"r", "x", int64(3)}})},
			`line 2 (op index 1): micro-op 0, ["r" "x" 3]: a read of a list-append key must be a list or null`},
		{"list value", "rw-register", histories.History{op(0, 0, histories.Invoke, "txn", []any{[]any{"w", "x", []any{}}}), op(1, 0, histories.OK, "txn", []any{[]any{"w", "x", []any{}}})},
			`is not a number or a string`},
	}
	for _, c := range cases {
		_, err := Check(c.h, Options{Workload: c.workload})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// Keys may be strings or integers; 7 and "7" are the same key. Values may
// be strings.
func TestKeyAndValueTypes(t *testing.T) {
	var h histories.History
	add := func(p int, typ histories.Type, v []any) {
		h = append(h, histories.Op{Index: int64(len(h)), Process: histories.Process(p), Type: typ, F: "txn", Value: v})
	}
	// G-single over an int key and a string key, with string values.
	add(0, histories.Invoke, []any{[]any{"append", int64(7), "a"}, []any{"append", "y", "b"}})
	add(1, histories.Invoke, []any{[]any{"r", "7", nil}, []any{"r", "y", nil}})
	add(0, histories.OK, []any{[]any{"append", int64(7), "a"}, []any{"append", "y", "b"}})
	add(1, histories.OK, []any{[]any{"r", "7", []any{}}, []any{"r", "y", []any{"b"}}})
	res, err := Check(h, Options{Workload: "append"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.AnomalyTypes, []string{"G-single-item"}) {
		t.Errorf("types = %v\n%s", res.AnomalyTypes, res.Summary)
	}
	if d := res.Details.(*Details); d.Keys != 2 {
		t.Errorf("keys = %d, want 2", d.Keys)
	}
}

// A real history: PostgreSQL 15.18 at SERIALIZABLE, rw-register through an
// independent client (lib/pq, its own generator and recorder; see
// testdata/txn/README.md and targets/postgres's package doc), 16,955
// transactions in 6 s. It holds exactly one G2-item cycle, which this test
// pins: T3 (index 29394) read 305 = 26 and 308 = 2 and wrote 308 = 4; T1
// (29400) read 305 = 26 and wrote 27; T2 (29422) read 305 = 27 and 308 = 2.
// T2 saw T1's write but not T3's, and T3 preceded T1: no serial order.
//
// Both rw edges order a value read before a value written on top of it by
// a transaction that read it first (26 < 27 on 305 by T1, 2 < 4 on 308 by
// T3): they exist only if writes follow reads (Options.WFRKeys, Elle's
// :wfr-keys?). With Elle's defaults the versions are not ordered and the
// history is consistent with serializable, as Elle would say.
func TestRealPostgresSerializableG2Item(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "txn", "postgres-15.18-serializable-g2-item.jsonl.gz")
	h, err := histories.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	def, err := Check(h, Options{Workload: "rw-register", ConsistencyModel: "serializable"})
	if err != nil || def.Valid != checker.Valid || len(def.AnomalyTypes) != 0 {
		t.Errorf("without writes-follow-reads: %v %v %v, want valid", def.Valid, def.AnomalyTypes, err)
	}
	res, err := Check(h, Options{Workload: "rw-register", ConsistencyModel: "serializable", WFRKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid != checker.Invalid || !reflect.DeepEqual(res.AnomalyTypes, []string{"G2-item"}) || !reflect.DeepEqual(res.Not, []string{"repeatable-read"}) {
		t.Fatalf("got %v %v not %v, want invalid [G2-item] not [repeatable-read]\n%s", res.Valid, res.AnomalyTypes, res.Not, res.Summary)
	}
	d := res.Details.(*Details)
	if d.Txns != (TxnCounts{OK: 11752, Fail: 5203}) {
		t.Errorf("txns %+v", d.Txns)
	}
	a := d.Anomalies[0]
	if a.Count != 1 || len(a.Cases) != 1 {
		t.Fatalf("G2-item count %d, %d cases", a.Count, len(a.Cases))
	}
	var idx []int64
	for _, tx := range a.Cases[0].Txns {
		idx = append(idx, tx.Index)
	}
	slices.Sort(idx)
	var steps []string
	for _, s := range a.Cases[0].Steps {
		steps = append(steps, s.Type)
	}
	slices.Sort(steps)
	if !reflect.DeepEqual(idx, []int64{29394, 29400, 29422}) || !reflect.DeepEqual(steps, []string{"rw", "rw", "wr"}) {
		t.Errorf("cycle of txns %v with edges %v, want 29394 29400 29422 with rw rw wr:\n%s", idx, steps, a.Cases[0].Explanation)
	}
	// What PostgreSQL's serializable level still gave: snapshot isolation.
	si, err := Check(h, Options{Workload: "rw-register", ConsistencyModel: "snapshot-isolation", WFRKeys: true})
	if err != nil || si.Valid != checker.Valid {
		t.Errorf("under snapshot-isolation: %v %v %v", si.Valid, si.AnomalyTypes, err)
	}
}

// Also widens the search without touching the verdict: a G2-item history
// is valid for snapshot isolation, yet the result names G2-item and the
// models it rules out; searched for through Anomalies instead it is
// invalid, as in Elle.
func TestAlsoSearchesWithoutJudging(t *testing.T) {
	h := readHistory(t, "G2-item.jsonl")
	plain, err := Check(h, Options{ConsistencyModel: "snapshot-isolation"})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Valid != checker.Valid || slices.Contains(plain.AnomalyTypes, "G2-item") {
		t.Errorf("snapshot-isolation alone: %v %v; want valid without G2-item (not searched)", plain.Valid, plain.AnomalyTypes)
	}
	also, err := Check(h, Options{ConsistencyModel: "snapshot-isolation", Also: Prohibited(DefaultModel)})
	if err != nil {
		t.Fatal(err)
	}
	if also.Valid != checker.Valid || !slices.Contains(also.AnomalyTypes, "G2-item") || !slices.Contains(also.Not, "repeatable-read") {
		t.Errorf("with Also: %v %v not %v; want valid, G2-item found, repeatable-read ruled out\n%s", also.Valid, also.AnomalyTypes, also.Not, also.Summary)
	}
	if !strings.Contains(also.Summary, "Consistent with snapshot-isolation") {
		t.Errorf("summary:\n%s", also.Summary)
	}
	judged, err := Check(h, Options{ConsistencyModel: "snapshot-isolation", Anomalies: []string{"G2-item"}})
	if err != nil {
		t.Fatal(err)
	}
	if judged.Valid != checker.Invalid {
		t.Errorf("with Anomalies G2-item: %v, want invalid", judged.Valid)
	}
	if _, err := Check(h, Options{Also: []string{"G3"}}); err == nil || !strings.Contains(err.Error(), "G3") {
		t.Errorf("unknown anomaly in Also: %v", err)
	}
}

// TestTooManyMicroOps: a transaction longer than the checker's elements
// can place their writers in is an error naming it, not a wrong verdict.
func TestTooManyMicroOps(t *testing.T) {
	mops := make([]any, maxTxnMops+1)
	for i := range mops {
		mops[i] = []any{"append", "x", int64(i)}
	}
	h := histories.History{
		{Index: 0, Process: 0, Type: histories.Invoke, F: "txn", Value: mops, Line: 1},
		{Index: 1, Process: 0, Type: histories.OK, F: "txn", Value: mops, Line: 2},
	}
	_, err := Check(h, Options{Workload: "append"})
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "at most 65535") {
		t.Fatalf("got %v, want an error at line 2 about at most 65535 micro-ops", err)
	}
	h[0].Value, h[1].Value = mops[:maxTxnMops], mops[:maxTxnMops]
	// A reader of the whole list, so that there is a graph to check.
	read := make([]any, maxTxnMops)
	for i := range read {
		read[i] = int64(i)
	}
	h = append(h, histories.Op{Index: 2, Process: 1, Type: histories.Invoke, F: "txn", Value: []any{[]any{"r", "x", nil}}},
		histories.Op{Index: 3, Process: 1, Type: histories.OK, F: "txn", Value: []any{[]any{"r", "x", read}}})
	if res, err := Check(h, Options{Workload: "append"}); err != nil || res.Valid != checker.Valid {
		t.Fatalf("%d micro-ops: %v %v, want valid", maxTxnMops, res.Valid, err)
	}
}

// TestElemSize: there is an element per value written, tens of millions in
// the largest histories (see elem).
func TestElemSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 && unsafe.Sizeof(elem{}) != 24 {
		t.Errorf("an elem is %d bytes, was 24", unsafe.Sizeof(elem{}))
	}
}
