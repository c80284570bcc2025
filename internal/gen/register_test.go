package gen

import (
	"reflect"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

func TestRegisterHistory(t *testing.T) {
	const ops, keys, procs = 20000, 100, 10
	h := RegisterHistory(7, ops, keys, procs, 0.02)
	if len(h) != 2*ops {
		t.Fatalf("%d events, want %d", len(h), 2*ops)
	}
	pairs, err := histories.Pairs(h, "")
	if err != nil {
		t.Fatalf("the history breaks the process rules: %v", err)
	}
	if len(pairs) != ops {
		t.Fatalf("%d ops, want %d", len(pairs), ops)
	}
	count := map[histories.Type]int{}
	fs := map[string]int{}
	usedKeys := map[string]bool{}
	overlapping := 0
	for _, p := range pairs {
		count[h.Outcome(p)]++
		fs[h[p.Invoke].F]++
		usedKeys[h[p.Invoke].Key] = true
		if p.Complete-p.Invoke > 1 {
			overlapping++
		}
	}
	if info := float64(count[histories.Info]) / ops; info < 0.01 || info > 0.03 {
		t.Errorf("info fraction %.3f, want about 0.02", info)
	}
	if count[histories.Fail] == 0 || count[histories.OK] < ops/2 {
		t.Errorf("outcomes %v", count)
	}
	if fs["read"] == 0 || fs["write"] == 0 || fs["cas"] == 0 {
		t.Errorf("fs %v", fs)
	}
	if len(usedKeys) != keys {
		t.Errorf("%d keys used, want %d", len(usedKeys), keys)
	}
	if overlapping < ops/2 {
		t.Errorf("only %d of %d ops overlap others", overlapping, ops)
	}
	// Written values are unique per key.
	written := map[[2]any]bool{}
	for _, p := range pairs {
		op := h[p.Invoke]
		var v any
		switch op.F {
		case "write":
			v = op.Value
		case "cas":
			v = op.Value.([]any)[1]
		default:
			continue
		}
		k := [2]any{op.Key, v}
		if written[k] {
			t.Fatalf("key %s: %v written twice", op.Key, v)
		}
		written[k] = true
	}
	if !reflect.DeepEqual(h, RegisterHistory(7, ops, keys, procs, 0.02)) {
		t.Error("the same seed should give the same history")
	}
}
