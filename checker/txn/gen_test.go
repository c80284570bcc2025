package txn

import (
	"reflect"
	"slices"
	"testing"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// Generated histories are strict serializable by construction: the checker
// must find nothing, with failures and crashes mixed in, under contention.
func TestGeneratedHistoriesAreValid(t *testing.T) {
	for _, o := range []GenOptions{
		{Seed: 1, Txns: 2000, Procs: 5, Keys: 3, OpsPerTxn: 4},
		{Seed: 2, Txns: 20000, Procs: 50, Keys: 10, OpsPerTxn: 4, FailRate: 0.05, InfoRate: 0.02},
		{Seed: 3, Txns: 20000, Procs: 100, Keys: 100, OpsPerTxn: 6, MaxWritesPerKey: 8, FailRate: 0.1, InfoRate: 0.05},
	} {
		h := AppendHistoryWith(o)
		res, err := Check(h, Options{Workload: "append"})
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if res.Valid != checker.Valid || len(res.AnomalyTypes) != 0 {
			t.Errorf("%+v: %v %v\n%s", o, res.Valid, res.AnomalyTypes, res.Summary)
		}
	}
}

func TestGeneratedRegisterHistories(t *testing.T) {
	for _, o := range []GenOptions{
		{Seed: 1, Txns: 2000, Procs: 5, Keys: 3, OpsPerTxn: 4},
		{Seed: 2, Txns: 20000, Procs: 50, Keys: 10, OpsPerTxn: 4, FailRate: 0.05, InfoRate: 0.02},
		{Seed: 3, Txns: 20000, Procs: 100, Keys: 100, OpsPerTxn: 6, MaxWritesPerKey: 8, FailRate: 0.1, InfoRate: 0.05},
	} {
		h := RWRegisterHistory(o)
		// With and without the writes-follow-reads version order (the
		// generator's transactions read a key before writing it).
		for _, wfr := range []bool{false, true} {
			res, err := Check(h, Options{Workload: "rw-register", WFRKeys: wfr})
			if err != nil {
				t.Fatalf("%+v: %v", o, err)
			}
			if res.Valid != checker.Valid || len(res.AnomalyTypes) != 0 {
				t.Errorf("%+v wfr %v: %v %v\n%s", o, wfr, res.Valid, res.AnomalyTypes, res.Summary)
			}
		}
	}
	o := GenOptions{Seed: 4, Txns: 20000, Procs: 50, Keys: 10, OpsPerTxn: 4, FailRate: 0.05, InfoRate: 0.02, PlantG2: true}
	h := RWRegisterHistory(o)
	for _, wfr := range []bool{false, true} {
		res, err := Check(h, Options{Workload: "rw-register", WFRKeys: wfr})
		if err != nil {
			t.Fatal(err)
		}
		if res.Valid != checker.Invalid || !reflect.DeepEqual(res.AnomalyTypes, []string{"G2-item"}) {
			t.Errorf("planted, wfr %v: %v %v\n%s", wfr, res.Valid, res.AnomalyTypes, res.Summary)
		}
	}
}

func TestGeneratedPlantedG2(t *testing.T) {
	for _, o := range []GenOptions{
		{Seed: 4, Txns: 20000, Procs: 50, Keys: 10, OpsPerTxn: 4, PlantG2: true},
		{Seed: 5, Txns: 20000, Procs: 100, Keys: 100, OpsPerTxn: 4, FailRate: 0.05, InfoRate: 0.02, PlantG2: true},
	} {
		h := AppendHistoryWith(o)
		res, err := Check(h, Options{Workload: "append"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Valid != checker.Invalid || !reflect.DeepEqual(res.AnomalyTypes, []string{"G2-item"}) ||
			!reflect.DeepEqual(res.Not, []string{"repeatable-read"}) {
			t.Errorf("%+v: %v %v not %v\n%s", o, res.Valid, res.AnomalyTypes, res.Not, res.Summary)
		}
		// Under snapshot isolation, write skew is allowed, so not looked
		// for, unless asked for.
		res, _ = Check(h, Options{Workload: "append", ConsistencyModel: "snapshot-isolation"})
		if res.Valid != checker.Valid || len(res.AnomalyTypes) != 0 {
			t.Errorf("under snapshot-isolation: %v %v", res.Valid, res.AnomalyTypes)
		}
		res, _ = Check(h, Options{Workload: "append", ConsistencyModel: "snapshot-isolation", Anomalies: []string{"G2-item"}})
		if res.Valid != checker.Invalid || !reflect.DeepEqual(res.AnomalyTypes, []string{"G2-item"}) {
			t.Errorf("under snapshot-isolation asking for G2-item: %v %v", res.Valid, res.AnomalyTypes)
		}
	}
}

// A database that returns stale reads produces one strongly connected
// component spanning almost the whole history; the search must still
// classify it, quickly and completely.
func TestGeneratedStaleReads(t *testing.T) {
	o := GenOptions{Seed: 9, Txns: 20000, Procs: 100, Keys: 100, OpsPerTxn: 4, StaleReads: 0.01, FailRate: 0.02, InfoRate: 0.01}
	for _, c := range []struct {
		workload string
		h        func(GenOptions) histories.History
	}{{"append", AppendHistoryWith}, {"rw-register", RWRegisterHistory}} {
		res, err := Check(c.h(o), Options{Workload: c.workload, WFRKeys: true})
		if err != nil {
			t.Fatal(err)
		}
		d := res.Details.(*Details)
		if res.Valid != checker.Invalid || !slices.Contains(res.AnomalyTypes, "G-single-item") || len(d.Unknown) > 0 || d.LargestSCC < o.Txns/2 {
			t.Errorf("%s: %v %v, largest SCC %d, unknown %v", c.workload, res.Valid, res.AnomalyTypes, d.LargestSCC, d.Unknown)
		}
	}
}
