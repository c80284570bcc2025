package checker

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/internal/gen"
)

// TestGeneratedHistories checks simulated linearizable histories, then
// breaks each in one place and checks that exactly that key fails.
func TestGeneratedHistories(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		h := gen.RegisterHistory(seed, 20000, 50, 20, 0.05)
		r, lin, err := Linearizable(h, LinearizableOptions{Model: "cas-register"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Valid != Valid || lin != nil {
			t.Fatalf("seed %d: a linearizable history was judged %v: %s", seed, r.Valid, r.Summary)
		}
		if d := r.Details.(LinearizableDetails); d.Keys != 50 || d.Decided != 50 {
			t.Errorf("details %+v", d)
		}
		// Out of time before the first key: unknown, never valid.
		r, _, err = Linearizable(h, LinearizableOptions{Model: "cas-register", Timeout: time.Nanosecond})
		if err != nil || r.Valid != Unknown || !strings.Contains(r.Summary, "0 of 50 keys decided") {
			t.Errorf("a 1ns timeout: %v, %v: %s", err, r.Valid, r.Summary)
		}
		if inferred, _ := InferModel(h); inferred != "cas-register" {
			t.Errorf("inferred %q", inferred)
		}

		// A read returning a value its key never had.
		bad := append(histories.History(nil), h...)
		i := lastOK(bad, "read")
		bad[i].Value = int64(-1)
		expectFailure(t, bad, bad[i])

		// An ok cas whose old value was never written.
		bad = append(histories.History(nil), h...)
		i = lastOK(bad, "cas")
		inv := invokeOf(bad, i)
		pair := []any{int64(-7), bad[inv].Value.([]any)[1]}
		bad[inv].Value, bad[i].Value = pair, pair
		expectFailure(t, bad, bad[i])
	}
}

func lastOK(h histories.History, f string) int {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Type == histories.OK && h[i].F == f {
			return i
		}
	}
	panic("no ok " + f)
}

func invokeOf(h histories.History, c int) int {
	for i := c - 1; i >= 0; i-- {
		if h[i].Process == h[c].Process && h[i].Type == histories.Invoke {
			return i
		}
	}
	panic("no invoke")
}

func expectFailure(t *testing.T, h histories.History, op histories.Op) {
	t.Helper()
	r, lin, err := Linearizable(h, LinearizableOptions{Model: "cas-register"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Valid != Invalid || len(lin.Keys()) != 1 || lin.Keys()[0] != op.Key {
		t.Fatalf("breaking op %d on key %s: %v, keys %v: %s", op.Index, op.Key, r.Valid, lin.Keys(), r.Summary)
	}
	f := r.Details.(LinearizableDetails).Failures[0]
	found := false
	for _, s := range f.Stuck {
		found = found || s.Index == op.Index
	}
	if !found {
		t.Errorf("the broken op %d is not among the stuck: %+v", op.Index, f.Stuck)
	}
}
