package txn

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

// These expectations are Elle's own (elle.consistency-model-test), with
// strict-serializable as the friendly name of PL-SS.
func TestBoundary(t *testing.T) {
	words := func(s string) []string {
		if s == "" {
			return nil
		}
		f := strings.Fields(s)
		sort.Strings(f)
		return f
	}
	cases := []struct {
		anomalies     []string
		not, alsoNot  string
		notOnly       bool // only check not
		skipAlsoCheck bool
	}{
		{anomalies: nil},
		{anomalies: []string{"cyclic-versions"}, not: "read-uncommitted",
			alsoNot: `read-committed snapshot-isolation causal-cerone consistent-view cursor-stability
			forward-consistent-view monotonic-atomic-view monotonic-snapshot-read monotonic-view
			parallel-snapshot-isolation prefix read-atomic repeatable-read update-atomic serializable
			strong-read-committed strong-read-uncommitted strict-serializable strong-session-read-committed
			strong-session-read-uncommitted strong-session-serializable strong-session-snapshot-isolation
			strong-snapshot-isolation update-serializable`},
		{anomalies: []string{"internal"}, not: "read-atomic",
			alsoNot: `causal-cerone parallel-snapshot-isolation prefix update-atomic serializable
			snapshot-isolation strict-serializable strong-session-serializable
			strong-session-snapshot-isolation strong-snapshot-isolation`},
		{anomalies: []string{"G1a"}, not: "read-committed",
			alsoNot: `read-atomic update-atomic causal-cerone consistent-view cursor-stability
			forward-consistent-view monotonic-atomic-view monotonic-snapshot-read monotonic-view
			parallel-snapshot-isolation prefix repeatable-read serializable snapshot-isolation
			strong-read-committed strong-snapshot-isolation strict-serializable
			strong-session-read-committed strong-session-serializable strong-session-snapshot-isolation
			update-serializable`},
		{anomalies: []string{"G-single"}, not: "consistent-view",
			alsoNot: `snapshot-isolation serializable strict-serializable strong-session-snapshot-isolation
			strong-snapshot-isolation strong-session-serializable forward-consistent-view update-serializable`},
		{anomalies: []string{"G2", "internal"}, not: "read-atomic",
			alsoNot: `update-atomic causal-cerone parallel-snapshot-isolation prefix serializable
			snapshot-isolation strict-serializable strong-session-serializable
			strong-session-snapshot-isolation strong-snapshot-isolation`},
		{anomalies: []string{"lost-update"}, not: "update-atomic cursor-stability", notOnly: true},
		{anomalies: []string{"G-single-realtime"}, not: "strong-snapshot-isolation", alsoNot: "strict-serializable"},
		// elle.rw-register-test's "G-single transaction-order" and
		// "G2-item transaction-order": an item G-single is also G2-item,
		// so it rules out repeatable read as well as consistent view.
		{anomalies: []string{"G-single-item"}, not: "consistent-view repeatable-read", notOnly: true},
		{anomalies: []string{"G2-item"}, not: "repeatable-read", notOnly: true},
	}
	for _, c := range cases {
		not, also := boundary(c.anomalies)
		if !reflect.DeepEqual(not, words(c.not)) {
			t.Errorf("%v: not = %v, want %v", c.anomalies, not, words(c.not))
		}
		if !c.notOnly && !reflect.DeepEqual(also, words(c.alsoNot)) {
			t.Errorf("%v: also_not = %v, want %v", c.anomalies, also, words(c.alsoNot))
		}
	}
}

func TestProhibitedByReadCommitted(t *testing.T) {
	var got []string
	for a := range prohibitedAnomalies("read-committed") {
		got = append(got, a)
	}
	sort.Strings(got)
	want := strings.Fields(`G0 G1 G1a G1b G1c PL-1-cycle-exists PL-2-cycle-exists cyclic-versions
		dirty-update duplicate-elements future-read incompatible-order`)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("prohibited by read-committed = %v, want %v", got, want)
	}
}

func TestModels(t *testing.T) {
	ms := Models()
	for _, want := range []string{"strict-serializable", "serializable", "snapshot-isolation",
		"repeatable-read", "cursor-stability", "read-committed", "monotonic-atomic-view",
		"read-uncommitted", "strong-session-serializable", "strong-snapshot-isolation",
		"strong-session-snapshot-isolation", "linearizable", "sequential", "causal", "PRAM",
		"monotonic-reads", "monotonic-writes", "read-your-writes", "writes-follow-reads"} {
		found := false
		for _, m := range ms {
			found = found || m == want
		}
		if !found {
			t.Errorf("Models() lacks %s: %v", want, ms)
		}
	}
	for _, m := range ms {
		if m == "PL-3" || m == "PL-SS" || m == "strong-serializable" {
			t.Errorf("Models() lists %s; want friendly names only", m)
		}
	}
	if _, err := checkModel("strong-serializable"); err != nil {
		t.Errorf("alias strong-serializable: %v", err)
	}
	if _, err := checkModel("stricct-serializable"); err == nil {
		t.Errorf("want an error for an unknown model")
	}
}
