package txn

import (
	"context"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// TestLatticeTable: for every consistency model the checker accepts and
// every anomaly type it can report, whether that anomaly rules the model
// out. The expected table is written by hand from Elle's
// src/elle/consistency_model.clj (commit dda36d8), not computed with the
// lattice code: an anomaly rules out every model that directly proscribes
// an anomaly it implies (implied-anomalies, direct-proscribed-anomalies),
// and every model that implies one of those (models). The derivations:
//
//   - G1a, G1b (→ G1), G1c (→ G1), future-read (→ G1c), dirty-update and
//     incompatible-order (→ G1a): G1 is proscribed by read-committed (PL-2),
//     so everything from read-committed up.
//   - internal: read-atomic, causal-cerone, prefix, parallel-SI,
//     serializable, snapshot-isolation and the strong SIs proscribe it;
//     read-atomic is the weakest, update-atomic implies it.
//   - lost-update (→ write-skew → G2, and → G2-item): cursor-stability,
//     update-atomic and repeatable-read proscribe it directly.
//   - G0, duplicate-elements, cyclic-versions: read-uncommitted (PL-1),
//     which every transactional model but the single-object ones implies.
//   - G0-process: strong-session-read-uncommitted; G0-realtime (which it
//     implies): strong-read-uncommitted; G1c-process: strong-session-
//     read-committed; G1c-realtime: strong-read-committed and
//     strict-serializable.
//   - G-single-item → G-single (consistent-view) and → G-nonadjacent-item
//     → G2-item (repeatable-read): Elle's own test says :not
//     #{:consistent-view :repeatable-read}.
//   - G-nonadjacent-item → G-nonadjacent (snapshot-isolation) and →
//     G2-item (repeatable-read).
//   - G2-item: repeatable-read (Adya), so serializable and up.
//   - The -process variants of the rw classes reach G-nonadjacent-process
//     (strong-session-snapshot-isolation) or only G2-process
//     (strong-session-serializable); the -realtime ones reach
//     G-nonadjacent-realtime (strong-snapshot-isolation) or only
//     G2-realtime (strict-serializable).
//   - "<model>-cycle-exists" is proscribed by that model only.
//   - empty-transaction-graph and cycle-search-timeout rule nothing out:
//     they make a verdict unknown.
//
// view-serializable, 1SR, session-serializable and the single-object
// models (linearizable … read-your-writes) proscribe nothing and imply no
// model that does: no anomaly rules them out.
func TestLatticeTable(t *testing.T) {
	set := func(groups ...string) map[string]bool {
		m := map[string]bool{}
		for _, g := range groups {
			for _, f := range strings.Fields(g) {
				m[f] = true
			}
		}
		return m
	}
	// The models from each model up (it and every model that implies
	// it), by hand from Elle's models graph.
	const (
		upSS    = "strict-serializable"
		upSSSER = "strong-session-serializable " + upSS
		upSSI   = "strong-snapshot-isolation " + upSS
		upSER   = "serializable " + upSSSER
		upSSSI  = "strong-session-snapshot-isolation strong-session-serializable " + upSSI
		upSRC   = "strong-read-committed " + upSSI
		upSSRC  = "strong-session-read-committed strong-read-committed " + upSSSI
		upSRU   = "strong-read-uncommitted " + upSRC
		upSSRU  = "strong-session-read-uncommitted strong-read-uncommitted " + upSSRC
		upRR    = "repeatable-read " + upSER
		upSI    = "snapshot-isolation serializable " + upSSSI
		upCV    = "consistent-view forward-consistent-view update-serializable " + upSI
		upRA    = "read-atomic causal-cerone update-atomic parallel-snapshot-isolation prefix " + upSI
		upRC    = "read-committed cursor-stability monotonic-view monotonic-snapshot-read monotonic-atomic-view repeatable-read " +
			upCV + " " + upRA + " " + upSSRC
		upRU = "read-uncommitted " + upRC + " " + upSSRU
	)
	want := map[string]map[string]bool{
		"G1a":                              set(upRC),
		"G1b":                              set(upRC),
		"G1c":                              set(upRC),
		"future-read":                      set(upRC),
		"dirty-update":                     set(upRC),
		"incompatible-order":               set(upRC),
		"PL-2-cycle-exists":                set(upRC),
		"internal":                         set(upRA),
		"lost-update":                      set("cursor-stability update-atomic parallel-snapshot-isolation", upCV, upRR),
		"G0":                               set(upRU),
		"duplicate-elements":               set(upRU),
		"cyclic-versions":                  set(upRU),
		"PL-1-cycle-exists":                set(upRU),
		"G0-process":                       set(upSSRU),
		"strong-session-PL-1-cycle-exists": set(upSSRU),
		"G0-realtime":                      set(upSRU),
		"strong-PL-1-cycle-exists":         set(upSRU),
		"G1c-process":                      set(upSSRC),
		"strong-session-PL-2-cycle-exists": set(upSSRC),
		"G1c-realtime":                     set(upSRC),
		"strong-PL-2-cycle-exists":         set(upSRC),
		"G-single-item":                    set(upCV, upRR),
		"G-single-item-process":            set(upSSSI),
		"G-single-item-realtime":           set(upSSI),
		"G-nonadjacent-item":               set(upSI, upRR),
		"G-nonadjacent-item-process":       set(upSSSI),
		"G-nonadjacent-item-realtime":      set(upSSI),
		"G2-item":                          set(upRR),
		"G2-item-process":                  set(upSSSER),
		"G2-item-realtime":                 set(upSS),
		"PL-3-cycle-exists":                set(upSER),
		"strong-session-serializable-cycle-exists": set(upSSSER),
		"PL-SS-cycle-exists":                       set(upSS),
		"empty-transaction-graph":                  set(),
		"cycle-search-timeout":                     set(),
	}
	// The table covers exactly the anomaly types the checker can report.
	var can []string
	for _, w := range []string{"append", "rw-register"} {
		for _, a := range reportableAnomalies(w, true) {
			if !slices.Contains(can, a) {
				can = append(can, a)
			}
		}
	}
	var tab []string
	for a := range want {
		tab = append(tab, a)
	}
	sort.Strings(can)
	sort.Strings(tab)
	if !reflect.DeepEqual(can, tab) {
		t.Fatalf("reportable anomalies %v, table %v", can, tab)
	}
	// Every model accepted: the friendly names, and the other names
	// (canonical and aliases) of the same models.
	other := map[string]string{
		"PL-1": "read-uncommitted", "PL-2": "read-committed", "PL-CS": "cursor-stability",
		"PL-2+": "consistent-view", "PL-FCV": "forward-consistent-view", "PL-3U": "update-serializable",
		"PL-2L": "monotonic-view", "PL-MSR": "monotonic-snapshot-read", "PL-2.99": "repeatable-read",
		"PL-SI": "snapshot-isolation", "PL-3": "serializable", "conflict-serializable": "serializable",
		"PL-SS": "strict-serializable", "strong-serializable": "strict-serializable",
		"strong-session-PL-1": "strong-session-read-uncommitted", "strong-session-PL-2": "strong-session-read-committed",
		"strong-PL-1": "strong-read-uncommitted", "strong-PL-2": "strong-read-committed",
	}
	accepted := map[string]string{}
	for _, m := range Models() {
		accepted[m] = m
	}
	for m, f := range other {
		accepted[m] = f
	}
	for m := range models.all {
		if _, ok := accepted[m]; !ok {
			t.Errorf("model %q is accepted but not in the table's list", m)
		}
	}
	if len(Models()) != 36 {
		t.Errorf("%d models, want the 36 of Elle's lattice: %v", len(Models()), Models())
	}
	for m, f := range accepted {
		if _, err := checkModel(m); err != nil {
			t.Errorf("%s: %v", m, err)
			continue
		}
		prohibited := prohibitedAnomalies(m)
		for _, a := range tab {
			exp := want[a][f]
			if got := prohibited[a]; got != exp {
				t.Errorf("%s rules out %s: got %v, want %v", a, m, got, exp)
			}
			if got := impossibleModels([]string{a})[canonicalModel(m)]; got != exp {
				t.Errorf("impossible models of %s include %s: got %v, want %v", a, m, got, exp)
			}
		}
	}
}

// hist builds a history of transactions, each on its own process, all
// invoked before any completes (so no real-time or process order relates
// them) and completed in order. A read's value in the invocation is nil.
func hist(txns ...[]any) histories.History {
	var h histories.History
	add := func(p int, typ histories.Type, v []any) {
		h = append(h, histories.Op{Index: int64(len(h)), Process: histories.Process(p), Type: typ, F: "txn", Value: v})
	}
	for p, tx := range txns {
		inv := make([]any, len(tx))
		for i, m := range tx {
			mop := slices.Clone(m.([]any))
			if mop[0] == "r" {
				mop[2] = nil
			}
			inv[i] = mop
		}
		add(p, histories.Invoke, inv)
	}
	for p, tx := range txns {
		add(p, histories.OK, tx)
	}
	return h
}

func mk(f, k string, v any) []any {
	if l, ok := v.([]int64); ok {
		vs := []any{}
		for _, x := range l {
			vs = append(vs, x)
		}
		v = vs
	}
	return []any{f, k, v}
}

func ops(ms ...[]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// The item anomalies end to end, list-append and rw-register, checked
// under repeatable-read, snapshot-isolation and serializable, with the
// verdicts Elle gives: G-single-item and G-nonadjacent-item are G2-item
// (Elle's implied-anomalies), so repeatable read rules them out; snapshot
// isolation rules out G-single-item and G-nonadjacent-item (both
// G-nonadjacent) but allows G2-item; serializable rules out all three.
// Every read of an element is followed by a read that shows it (list
// append), so Elle's inference gives the same edges.
func TestItemAnomaliesEndToEnd(t *testing.T) {
	none := []int64{}
	one := []int64{1}
	type verdicts struct{ rr, si, ser checker.Validity }
	cases := []struct {
		name, workload string
		h              histories.History
		typ, not       string
		want           verdicts
	}{
		{"G-single-item", "append", hist(
			ops(mk("append", "x", int64(1)), mk("append", "y", int64(1))),
			ops(mk("r", "x", none), mk("r", "y", one)),
			ops(mk("r", "x", one))),
			"G-single-item", "consistent-view repeatable-read", verdicts{checker.Invalid, checker.Invalid, checker.Invalid}},
		{"G-single-item", "rw-register", hist(
			ops(mk("w", "x", int64(1)), mk("w", "y", int64(1))),
			ops(mk("r", "x", nil), mk("r", "y", int64(1)))),
			"G-single-item", "consistent-view repeatable-read", verdicts{checker.Invalid, checker.Invalid, checker.Invalid}},
		// T1 -rw-> T2 -wr-> T3 -rw-> T4 -wr-> T1.
		{"G-nonadjacent-item", "append", hist(
			ops(mk("r", "a", none), mk("r", "d", one)),
			ops(mk("append", "a", int64(1)), mk("append", "b", int64(1))),
			ops(mk("r", "b", one), mk("r", "c", none)),
			ops(mk("append", "c", int64(1)), mk("append", "d", int64(1))),
			ops(mk("r", "a", one), mk("r", "c", one))),
			"G-nonadjacent-item", "repeatable-read snapshot-isolation", verdicts{checker.Invalid, checker.Invalid, checker.Invalid}},
		{"G-nonadjacent-item", "rw-register", hist(
			ops(mk("r", "a", nil), mk("r", "d", int64(1))),
			ops(mk("w", "a", int64(1)), mk("w", "b", int64(1))),
			ops(mk("r", "b", int64(1)), mk("r", "c", nil)),
			ops(mk("w", "c", int64(1)), mk("w", "d", int64(1)))),
			"G-nonadjacent-item", "repeatable-read snapshot-isolation", verdicts{checker.Invalid, checker.Invalid, checker.Invalid}},
		// Write skew: T1 -rw-> T2 -rw-> T1.
		{"G2-item", "append", hist(
			ops(mk("r", "x", none), mk("r", "y", none), mk("append", "x", int64(1))),
			ops(mk("r", "x", none), mk("r", "y", none), mk("append", "y", int64(1))),
			ops(mk("r", "x", one), mk("r", "y", one))),
			"G2-item", "repeatable-read", verdicts{checker.Invalid, checker.Valid, checker.Invalid}},
		{"G2-item", "rw-register", hist(
			ops(mk("r", "x", nil), mk("r", "y", nil), mk("w", "x", int64(1))),
			ops(mk("r", "x", nil), mk("r", "y", nil), mk("w", "y", int64(1)))),
			"G2-item", "repeatable-read", verdicts{checker.Invalid, checker.Valid, checker.Invalid}},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.workload, func(t *testing.T) {
			for _, m := range []struct {
				model string
				want  checker.Validity
			}{{"repeatable-read", c.want.rr}, {"snapshot-isolation", c.want.si}, {"serializable", c.want.ser}} {
				res, err := Check(c.h, Options{Workload: c.workload, ConsistencyModel: m.model})
				if err != nil {
					t.Fatal(err)
				}
				// A model that allows the anomaly does not look for it.
				types, not := fields(c.typ), fields(c.not)
				if m.want == checker.Valid {
					types, not = nil, nil
				}
				if res.Valid != m.want || !reflect.DeepEqual(res.AnomalyTypes, types) || !reflect.DeepEqual(res.Not, not) {
					t.Errorf("under %s: %v %v not %v, want %v %v not %v\n%s", m.model, res.Valid, res.AnomalyTypes, res.Not, m.want, types, not, res.Summary)
				}
			}
			// Asked for, it is found whatever the model.
			res, err := Check(c.h, Options{Workload: c.workload, ConsistencyModel: "read-committed", Anomalies: []string{c.typ}})
			if err != nil || res.Valid != checker.Invalid || !reflect.DeepEqual(res.AnomalyTypes, []string{c.typ}) {
				t.Errorf("read-committed with %s asked for: %v %v %v", c.typ, res.Valid, res.AnomalyTypes, err)
			}
		})
	}
}

// What is searched for follows the model and Options.Anomalies, as Elle's
// prohibited-anomaly-types; process and real-time edges are built only for
// classes that need them (Elle's additional-graphs).
func TestScope(t *testing.T) {
	h := readHistory(t, "G2-item.jsonl")
	cases := []struct {
		model     string
		anomalies []string
		searched  string
		proc, rt  bool
	}{
		// Snapshot isolation: G1, G-nonadjacent, lost-update, internal …
		// and what implies them; no G2-item, no process or real time.
		{"snapshot-isolation", nil, `G-nonadjacent-item G-single-item G0 G1a G1b G1c dirty-update duplicate-elements
			future-read incompatible-order internal lost-update`, false, false},
		{"read-committed", nil, "G0 G1a G1b G1c dirty-update future-read incompatible-order duplicate-elements", false, false},
		// G2 expands to its family: every anomaly that implies it.
		{"read-committed", []string{"G2"}, `G-nonadjacent-item G-single-item G0 G1a G1b G1c G2-item dirty-update
			duplicate-elements future-read incompatible-order lost-update`, false, false},
		{"repeatable-read", nil, `G-nonadjacent-item G-single-item G0 G1a G1b G1c G2-item dirty-update
			duplicate-elements future-read incompatible-order lost-update`, false, false},
		{"strong-session-serializable", nil, `G-nonadjacent-item G-nonadjacent-item-process G-single-item
			G-single-item-process G0 G0-process G1a G1b G1c G1c-process G2-item G2-item-process dirty-update
			duplicate-elements future-read incompatible-order internal lost-update`, true, false},
		{"strict-serializable", nil, `G-nonadjacent-item G-nonadjacent-item-process G-nonadjacent-item-realtime
			G-single-item G-single-item-process G-single-item-realtime G0 G0-process G0-realtime G1a G1b G1c
			G1c-process G1c-realtime G2-item G2-item-process G2-item-realtime dirty-update duplicate-elements
			future-read incompatible-order internal lost-update`, true, true},
		// A single-object model proscribes nothing transactional.
		{"linearizable", nil, "", false, false},
		// G0-realtime brings what implies it: G0-process and G0.
		{"linearizable", []string{"G0-realtime"}, "G0 G0-process G0-realtime", true, true},
	}
	for _, c := range cases {
		res, err := Check(h, Options{ConsistencyModel: c.model, Anomalies: c.anomalies})
		if err != nil {
			t.Fatal(err)
		}
		d := res.Details.(*Details)
		want := fields(c.searched)
		sort.Strings(want)
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(d.AnomaliesSearched, want) || d.ProcessEdges != c.proc || d.RealtimeEdges != c.rt {
			t.Errorf("%s %v: searched %v, edges process %v realtime %v; want %v, %v %v", c.model, c.anomalies, d.AnomaliesSearched, d.ProcessEdges, d.RealtimeEdges, want, c.proc, c.rt)
		}
		if !strings.Contains(res.Summary, "\nSearched for ") {
			t.Errorf("summary does not say what was searched for:\n%s", res.Summary)
		}
		for _, typ := range res.AnomalyTypes {
			if !slices.Contains(d.AnomaliesSearched, typ) && !slices.Contains(unknownAnomalies, typ) && !strings.HasSuffix(typ, "-cycle-exists") {
				t.Errorf("%s %v: reported %s, not searched for", c.model, c.anomalies, typ)
			}
		}
	}
	// rw-register without writes-follow-reads cannot order versions, so
	// cyclic-versions is not searched for; with it, it is.
	reg := readHistory(t, "valid-rw-register.jsonl")
	for _, wfr := range []bool{false, true} {
		res, err := Check(reg, Options{ConsistencyModel: "read-uncommitted", WFRKeys: wfr})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"G0"}
		if wfr {
			want = []string{"G0", "cyclic-versions"}
		}
		if d := res.Details.(*Details); !reflect.DeepEqual(d.AnomaliesSearched, want) {
			t.Errorf("rw-register, wfr %v: searched %v, want %v", wfr, d.AnomaliesSearched, want)
		}
	}
	// Unknown names are refused, listing the known ones.
	_, err := Check(h, Options{Anomalies: []string{"G2-item", "G3"}})
	if err == nil || !strings.Contains(err.Error(), `unknown anomaly "G3" (known: `) || !strings.Contains(err.Error(), "G-single-item") {
		t.Errorf("err = %v", err)
	}
	if err := ValidateAnomalies([]string{"G3", "write-skewed"}); err == nil || !strings.Contains(err.Error(), `unknown anomalies "G3", "write-skewed"`) {
		t.Errorf("err = %v", err)
	}
	for _, a := range []string{"G2", "G-single", "G-nonadjacent", "GSIb", "write-skew", "G-single-item-realtime", "PL-3-cycle-exists", "cycle-search-timeout"} {
		if err := ValidateAnomalies([]string{a}); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
}

// No dependency at all: Elle's empty-transaction-graph, unknown unless
// something proves the history invalid.
func TestEmptyTransactionGraph(t *testing.T) {
	w := func(k string, v int64) []any { return mk("w", k, v) }
	r := func(k string, v any) []any { return mk("r", k, v) }
	// Nothing committed.
	var failed histories.History
	failed = append(failed,
		histories.Op{Index: 0, Process: 0, Type: histories.Invoke, F: "txn", Value: ops(w("x", 1))},
		histories.Op{Index: 1, Process: 0, Type: histories.Fail, F: "txn", Value: ops(w("x", 1))},
		histories.Op{Index: 2, Process: 1, Type: histories.Invoke, F: "txn", Value: ops(w("x", 2))},
		histories.Op{Index: 3, Process: 1, Type: histories.Info, F: "txn", Value: ops(w("x", 2))})
	// Elle's rw_register_test "G0": two blind writers nobody reads.
	blind := hist(ops(w("x", 1), w("y", 2)), ops(w("x", 2), w("y", 1)))
	// Elle's rw_register_test "G1b": T2 read T1's intermediate write,
	// which gives no edge.
	g1b := hist(ops(w("x", 1), w("x", 2)), ops(r("x", int64(1))))
	cases := []struct {
		name      string
		h         histories.History
		model     string
		anomalies []string
		valid     checker.Validity
		types     string
		not       string
	}{
		{"nothing committed", failed, "strict-serializable", nil, checker.Unknown, "empty-transaction-graph", ""},
		{"blind writes", blind, "read-uncommitted", []string{"G0"}, checker.Unknown, "empty-transaction-graph", ""},
		// Concurrent, so under strict serializability no real-time edge
		// either.
		{"blind writes", blind, "strict-serializable", nil, checker.Unknown, "empty-transaction-graph", ""},
		// Elle: {:valid? false, :anomaly-types [:G1b
		// :empty-transaction-graph], :not #{:read-committed}} for a
		// repeatable-read claim.
		{"intermediate read", g1b, "repeatable-read", nil, checker.Invalid, "G1b empty-transaction-graph", "read-committed"},
		// Elle with :anomalies [:G0]: unknown. (Elle's :not there also
		// counts the G1b it found but does not report; see doc.go.)
		{"intermediate read", g1b, "read-uncommitted", nil, checker.Unknown, "empty-transaction-graph", ""},
	}
	for _, c := range cases {
		for _, wfr := range []bool{false, true} {
			res, err := Check(c.h, Options{Workload: "rw-register", ConsistencyModel: c.model, Anomalies: c.anomalies, WFRKeys: wfr})
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid != c.valid || !reflect.DeepEqual(res.AnomalyTypes, fields(c.types)) || !reflect.DeepEqual(res.Not, fields(c.not)) {
				t.Errorf("%s under %s, wfr %v: %v %v not %v, want %v [%s] not [%s]\n%s", c.name, c.model, wfr, res.Valid, res.AnomalyTypes, res.Not, c.valid, c.types, c.not, res.Summary)
			}
		}
	}
	// In sequence, real time orders the blind writers when the model
	// needs real-time edges: the graph is not empty.
	seq := histories.History{
		{Index: 0, Process: 0, Type: histories.Invoke, F: "txn", Value: ops(w("x", 1), w("y", 2))},
		{Index: 1, Process: 0, Type: histories.OK, F: "txn", Value: ops(w("x", 1), w("y", 2))},
		{Index: 2, Process: 1, Type: histories.Invoke, F: "txn", Value: ops(w("x", 2), w("y", 1))},
		{Index: 3, Process: 1, Type: histories.OK, F: "txn", Value: ops(w("x", 2), w("y", 1))},
	}
	if res, _ := Check(seq, Options{Workload: "rw-register"}); res.Valid != checker.Valid {
		t.Errorf("sequential blind writes under strict-serializable: %v %v", res.Valid, res.AnomalyTypes)
	}
	if res, _ := Check(seq, Options{Workload: "rw-register", ConsistencyModel: "serializable"}); res.Valid != checker.Unknown ||
		!reflect.DeepEqual(res.AnomalyTypes, []string{"empty-transaction-graph"}) {
		t.Errorf("sequential blind writes under serializable: %v %v", res.Valid, res.AnomalyTypes)
	}
}

// rw-register's version order: writes follow reads only when asked
// (Elle's :wfr-keys?), and reads that are not a transaction's first access
// to a key, or that read another transaction's intermediate value, give no
// dependency.
func TestWFRKeys(t *testing.T) {
	w := func(k string, v int64) []any { return mk("w", k, v) }
	r := func(k string, v any) []any { return mk("r", k, v) }
	// Write skew from a common state that only writes-follow-reads can
	// order: T1 and T2 both read x = y = 1 (T0's), then T1 writes x = 2
	// and T2 y = 2.
	skew := hist(
		ops(w("x", 1), w("y", 1)),
		ops(r("x", int64(1)), r("y", int64(1)), w("x", 2)),
		ops(r("x", int64(1)), r("y", int64(1)), w("y", 2)))
	res, err := Check(skew, Options{Workload: "rw-register", ConsistencyModel: "serializable"})
	if err != nil || res.Valid != checker.Valid || len(res.AnomalyTypes) != 0 {
		t.Errorf("default: %v %v %v, want valid (1 < 2 is not known)\n%s", res.Valid, res.AnomalyTypes, err, res.Summary)
	}
	if d := res.Details.(*Details); d.Edges != 2 {
		t.Errorf("default: %d edges, want the 2 wr edges", d.Edges)
	}
	res, err = Check(skew, Options{Workload: "rw-register", ConsistencyModel: "serializable", WFRKeys: true})
	if err != nil || res.Valid != checker.Invalid || !reflect.DeepEqual(res.AnomalyTypes, []string{"G2-item"}) {
		t.Errorf("wfr: %v %v %v, want invalid G2-item\n%s", res.Valid, res.AnomalyTypes, err, res.Summary)
	}
	if !strings.Contains(res.Summary, "assuming writes follow reads") {
		t.Errorf("summary does not say writes follow reads:\n%s", res.Summary)
	}
	for _, c := range []struct {
		name  string
		h     histories.History
		types string
	}{
		// T2's read of x follows its own write: not an external read, so
		// no wr edge from T1 (and the read contradicts the write).
		{"read after own write", hist(ops(w("x", 1)), ops(w("x", 2), r("x", int64(1)))), "empty-transaction-graph internal"},
		// T2 read T1's intermediate x = 1 and wrote over it: no wr edge
		// (1 was not T1's external write), and the version 1 < 3 that
		// writes-follow-reads gives has no external writer of 1 to order.
		{"read of an intermediate value", hist(ops(w("x", 1), w("x", 2)), ops(r("x", int64(1)), w("x", 3))), "G1b empty-transaction-graph"},
	} {
		for _, wfr := range []bool{false, true} {
			res, err := Check(c.h, Options{Workload: "rw-register", ConsistencyModel: "serializable", WFRKeys: wfr})
			if err != nil {
				t.Fatal(err)
			}
			if d := res.Details.(*Details); d.Edges != 0 || !reflect.DeepEqual(res.AnomalyTypes, fields(c.types)) || res.Valid != checker.Invalid {
				t.Errorf("%s, wfr %v: %d edges, %v %v, want no edge, invalid [%s]\n%s", c.name, wfr, d.Edges, res.Valid, res.AnomalyTypes, c.types, res.Summary)
			}
		}
	}
	// Cyclic versions drop every writes-follow-reads version edge, as Elle
	// drops a version source that makes the version graph cyclic: the
	// write skew on y and z that writes-follow-reads would show is gone
	// with the cycle on x.
	cyc := hist(
		ops(r("x", int64(1)), w("x", 2)),
		ops(r("x", int64(2)), w("x", 1)),
		ops(w("y", 1), w("z", 1)),
		ops(r("y", int64(1)), r("z", int64(1)), w("y", 2)),
		ops(r("y", int64(1)), r("z", int64(1)), w("z", 2)))
	res, err = Check(cyc, Options{Workload: "rw-register", WFRKeys: true})
	if err != nil || !reflect.DeepEqual(res.AnomalyTypes, []string{"G1c", "cyclic-versions"}) {
		t.Errorf("cyclic versions: %v %v\n%s", res.AnomalyTypes, err, res.Summary)
	}
}

// A search that cannot finish is cycle-search-timeout, named as a type,
// and the verdict is unknown unless something else proves it invalid.
func TestCycleSearchTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := CheckContext(ctx, readHistory(t, "G2-item.jsonl"), Options{ConsistencyModel: "repeatable-read"})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Details.(*Details)
	if res.Valid != checker.Unknown || !reflect.DeepEqual(res.AnomalyTypes, []string{"cycle-search-timeout"}) || len(d.Anomalies) != 1 {
		t.Fatalf("%v %v\n%s", res.Valid, res.AnomalyTypes, res.Summary)
	}
	if ex := d.Anomalies[0].Cases[0].Explanation; !strings.Contains(ex, "G-single-item, G-nonadjacent-item, G2-item") {
		t.Errorf("explanation does not name the classes not searched:\n%s", ex)
	}
	// Something else proves it invalid.
	res, err = CheckContext(ctx, readHistory(t, "G1a.jsonl"), Options{})
	if err != nil || res.Valid != checker.Invalid {
		t.Errorf("G1a out of time: %v %v %v", res.Valid, res.AnomalyTypes, err)
	}
}

// Histories from Elle's own test suite (test/elle/list_append_test.clj),
// with the verdicts Elle asserts. Elle's test ops run one after another on
// process 0.
func TestElleListAppendExamples(t *testing.T) {
	seq := func(txns ...[]any) histories.History {
		var h histories.History
		for _, tx := range txns {
			inv := make([]any, len(tx))
			for i, m := range tx {
				mop := slices.Clone(m.([]any))
				if mop[0] == "r" {
					mop[2] = nil
				}
				inv[i] = mop
			}
			h = append(h, histories.Op{Index: int64(len(h)), Process: 0, Type: histories.Invoke, F: "txn", Value: inv},
				histories.Op{Index: int64(len(h) + 1), Process: 0, Type: histories.OK, F: "txn", Value: tx})
		}
		return h
	}
	ap := func(k string, v int64) []any { return mk("append", k, v) }
	rd := func(k string, vs ...int64) []any { return mk("r", k, append([]int64{}, vs...)) }
	cases := []struct {
		name, model string
		h           histories.History
		valid       checker.Validity
		types, not  string
	}{
		// rr-g-single-item-test: "ax1ay1", "rx1ry".
		{"rr-g-single-item", "repeatable-read", seq(ops(ap("x", 1), ap("y", 1)), ops(rd("x", 1), rd("y"))),
			checker.Invalid, "G-single-item", "consistent-view repeatable-read"},
		// rr-g-nonadjacent-item-test: "ax1at1", "rx1ry", "ay1az2", "rz2rt".
		{"rr-g-nonadjacent-item", "repeatable-read", seq(
			ops(ap("x", 1), ap("t", 1)), ops(rd("x", 1), rd("y")),
			ops(ap("y", 1), ap("z", 2)), ops(rd("z", 2), rd("t"))),
			checker.Invalid, "G-nonadjacent-item", "repeatable-read snapshot-isolation"},
		// future-read-test: a transaction that reads its own later
		// append, alone: the graph is empty too.
		{"future-read", "read-committed", histories.History{
			{Index: 0, Process: 0, Type: histories.Invoke, F: "txn", Value: ops(rd("x", 1), ap("x", 1))},
			{Index: 1, Process: 0, Type: histories.OK, F: "txn", Value: ops(rd("x", 1), ap("x", 1))}},
			checker.Invalid, "empty-transaction-graph future-read", "read-committed"},
	}
	for _, c := range cases {
		res, err := Check(c.h, Options{Workload: "append", ConsistencyModel: c.model})
		if err != nil {
			t.Fatal(err)
		}
		if res.Valid != c.valid || !reflect.DeepEqual(res.AnomalyTypes, fields(c.types)) || !reflect.DeepEqual(res.Not, fields(c.not)) {
			t.Errorf("%s: %v %v not %v, want %v [%s] not [%s]\n%s", c.name, res.Valid, res.AnomalyTypes, res.Not, c.valid, c.types, c.not, res.Summary)
		}
	}
}
