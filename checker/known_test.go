package checker

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/internal/gen"
)

// Keys checked alone (as a run checks each key the workload retires) and
// handed in as Known give the whole history's check the very result it
// gives without them; a key whose invocations do not match what Known says
// is searched again.
func TestKnownKeys(t *testing.T) {
	h := gen.RegisterHistory(5, 4000, 20, 10, 0.05)
	// One key made non-linearizable: a read of a value never written.
	i := lastOK(h, "read")
	h[i].Value = int64(-1)
	badKey := h[i].Key
	opts := LinearizableOptions{Model: "cas-register"}
	want, _, err := Linearizable(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want.Valid != Invalid {
		t.Fatalf("the planted read was not found: %s", want.Summary)
	}
	byKey := map[string]histories.History{}
	for _, op := range h {
		byKey[op.Key] = append(byKey[op.Key], op)
	}
	known := map[string]KnownKey{}
	for k, sub := range byKey {
		r, _, err := Linearizable(sub, opts)
		if err != nil {
			t.Fatal(err)
		}
		if r.Valid != Valid {
			if k != badKey {
				t.Fatalf("key %s alone: %s", k, r.Summary)
			}
			continue
		}
		inv := 0
		for _, op := range sub {
			if op.Type == histories.Invoke {
				inv++
			}
		}
		known[k] = KnownKey{Invocations: inv, Ops: r.Details.(LinearizableDetails).Ops}
	}
	if len(known) != len(byKey)-1 {
		t.Fatalf("%d of %d keys known", len(known), len(byKey))
	}
	got, _, err := Linearizable(h, LinearizableOptions{Model: "cas-register", Known: known})
	if err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("with Known:\n%s\nwithout:\n%s", gj, wj)
	}
	// The bad key claimed linearizable with the wrong count of
	// invocations: searched anyway, and found.
	known[badKey] = KnownKey{Invocations: 1, Ops: 1}
	if got, _, _ := Linearizable(h, LinearizableOptions{Model: "cas-register", Known: known}); got.Valid != Invalid {
		t.Fatalf("a Known entry that does not match the key's ops hid it: %s", got.Summary)
	}
}

// TestKeyPartition: grouping pairs by key as they come gives what
// grouping them at the end does, key for key and pair for pair, on every
// linearizability history of the test data.
func TestKeyPartition(t *testing.T) {
	files, _ := filepath.Glob("../testdata/linearizable/*")
	compared := 0
	for _, f := range files {
		h, err := histories.ReadFile(f)
		if err != nil {
			continue
		}
		pairs, err := histories.Pairs(h, f)
		if err != nil {
			continue
		}
		var kp KeyPartition
		for _, p := range pairs {
			kp.Add(h[p.Invoke].Key)
		}
		want, got := partitionPairs(h, pairs), kp.sorted()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: grouped as they come %v, want %v", f, got, want)
		}
		compared++
	}
	if compared < 5 {
		t.Errorf("only %d histories compared", compared)
	}
}
