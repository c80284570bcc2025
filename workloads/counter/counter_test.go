package counter

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/faultline-dev/faultline/workloads/workloadtest"

	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

func TestGeneratorIsDeterministic(t *testing.T) { workloadtest.Deterministic(t, Default) }

func TestGeneratorShapes(t *testing.T) {
	w := &Workload{ActiveKeys: 2, AddsPerKey: 40}
	g := w.NewGenerator(3)
	invs := workloadtest.Take(g, 4000)
	adds := map[string]int{}
	used := map[string]bool{}
	deltas := map[int64]bool{}
	reads := 0
	for _, inv := range invs {
		used[inv.Key] = true
		switch inv.F {
		case "add":
			d, ok := inv.Value.(int64)
			if !ok || d < 1 || d > DefaultMaxDelta {
				t.Fatalf("add of %v: want 1..%d", inv.Value, DefaultMaxDelta)
			}
			deltas[d] = true
			adds[inv.Key]++
		case "read":
			reads++
			if inv.Value != nil {
				t.Fatalf("read with value %v", inv.Value)
			}
		default:
			t.Fatalf("f %q", inv.F)
		}
	}
	if len(deltas) != DefaultMaxDelta {
		t.Errorf("deltas drawn: %v, want each of 1..%d", deltas, DefaultMaxDelta)
	}
	for k, n := range adds {
		if n > w.AddsPerKey {
			t.Errorf("key %s got %d adds, more than %d", k, n, w.AddsPerKey)
		}
	}
	if frac := float64(reads) / float64(len(invs)); frac < 0.45 || frac > 0.55 {
		t.Errorf("reads are %.2f of the ops, want about half", frac)
	}
	final := g.(workloads.FinalGenerator).Final()
	seen := map[string]bool{}
	for _, inv := range final {
		if inv.F != "read" || seen[inv.Key] {
			t.Fatalf("final op %+v: want one read per key", inv)
		}
		seen[inv.Key] = true
	}
	for k := range used {
		if !seen[k] {
			t.Errorf("key %s was used but has no final read", k)
		}
	}
}

type fakeClient struct {
	n   int64
	err error
	def bool
}

func (f *fakeClient) CounterAdd(_ context.Context, _ string, d int64) error {
	if f.err == nil {
		f.n += d
	}
	return f.err
}
func (f *fakeClient) CounterRead(context.Context, string) (int64, error) { return f.n, f.err }
func (f *fakeClient) Definite(error) bool                                { return f.def }

func TestInvoke(t *testing.T) {
	boom := errors.New("boom")
	add := workloads.Invocation{F: "add", Key: "0", Value: int64(3)}
	read := workloads.Invocation{F: "read", Key: "0"}
	for _, c := range []struct {
		name   string
		client *fakeClient
		inv    workloads.Invocation
		want   workloads.Completion
	}{
		{"add", &fakeClient{}, add, workloads.Completion{Type: histories.OK, Value: int64(3)}},
		{"add definite", &fakeClient{err: boom, def: true}, add, workloads.Completion{Type: histories.Fail, Value: int64(3), Error: "boom"}},
		{"add unknown", &fakeClient{err: boom}, add, workloads.Completion{Type: histories.Info, Value: int64(3), Error: "boom"}},
		{"read", &fakeClient{n: 12}, read, workloads.Completion{Type: histories.OK, Value: int64(12)}},
		{"read error", &fakeClient{err: boom}, read, workloads.Completion{Type: histories.Fail, Error: "boom"}},
	} {
		if got := Default.Invoke(context.Background(), c.client, c.inv); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if err := Default.Supports(struct{}{}); err == nil {
		t.Error("Supports accepts a client without counter operations")
	}
}
