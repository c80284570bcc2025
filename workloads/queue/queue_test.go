package queue

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
	w := &Workload{ActiveKeys: 2, EnqueuesPerKey: 30}
	g := w.NewGenerator(5)
	invs := workloadtest.Take(g, 3000)
	enq := map[string]int{}
	used := map[string]bool{}
	last := int64(-1)
	deq := 0
	for _, inv := range invs {
		used[inv.Key] = true
		switch inv.F {
		case "enqueue":
			v, ok := inv.Value.(int64)
			if !ok || v != last+1 {
				t.Fatalf("enqueue of %v after %d: want the next integer", inv.Value, last)
			}
			last = v
			enq[inv.Key]++
		case "dequeue":
			deq++
			if inv.Value != nil {
				t.Fatalf("dequeue with value %v", inv.Value)
			}
		default:
			t.Fatalf("f %q", inv.F)
		}
	}
	for k, n := range enq {
		if n > w.EnqueuesPerKey {
			t.Errorf("key %s got %d enqueues, more than %d", k, n, w.EnqueuesPerKey)
		}
	}
	if frac := float64(deq) / float64(len(invs)); frac < 0.45 || frac > 0.55 {
		t.Errorf("dequeues are %.2f of the ops, want about half", frac)
	}
	final := g.(workloads.FinalGenerator).Final()
	seen := map[string]bool{}
	for _, inv := range final {
		if inv.F != "drain" || seen[inv.Key] {
			t.Fatalf("final op %+v: want one drain per key", inv)
		}
		seen[inv.Key] = true
	}
	for k := range used {
		if !seen[k] {
			t.Errorf("key %s was used but has no final drain", k)
		}
	}
}

type fakeClient struct {
	q   []int64
	err error
	def bool
}

func (f *fakeClient) Enqueue(_ context.Context, _ string, v int64) error {
	if f.err == nil {
		f.q = append(f.q, v)
	}
	return f.err
}
func (f *fakeClient) Dequeue(context.Context, string) (int64, bool, error) {
	if f.err != nil || len(f.q) == 0 {
		return 0, false, f.err
	}
	v := f.q[0]
	f.q = f.q[1:]
	return v, true, nil
}
func (f *fakeClient) Drain(context.Context, string) ([]int64, error) {
	vs := f.q
	f.q = nil
	return vs, f.err
}
func (f *fakeClient) Definite(error) bool { return f.def }

func TestInvoke(t *testing.T) {
	boom := errors.New("boom")
	enq := workloads.Invocation{F: "enqueue", Key: "0", Value: int64(3)}
	deq := workloads.Invocation{F: "dequeue", Key: "0"}
	drain := workloads.Invocation{F: "drain", Key: "0"}
	for _, c := range []struct {
		name   string
		client *fakeClient
		inv    workloads.Invocation
		want   workloads.Completion
	}{
		{"enqueue", &fakeClient{}, enq, workloads.Completion{Type: histories.OK, Value: int64(3)}},
		{"enqueue definite", &fakeClient{err: boom, def: true}, enq, workloads.Completion{Type: histories.Fail, Value: int64(3), Error: "boom"}},
		{"enqueue unknown", &fakeClient{err: boom}, enq, workloads.Completion{Type: histories.Info, Value: int64(3), Error: "boom"}},
		{"dequeue", &fakeClient{q: []int64{4, 5}}, deq, workloads.Completion{Type: histories.OK, Value: int64(4)}},
		{"dequeue empty", &fakeClient{}, deq, workloads.Completion{Type: histories.Fail, Error: "empty"}},
		{"dequeue unknown", &fakeClient{err: boom}, deq, workloads.Completion{Type: histories.Info, Error: "boom"}},
		{"dequeue definite", &fakeClient{err: boom, def: true}, deq, workloads.Completion{Type: histories.Fail, Error: "boom"}},
		{"drain", &fakeClient{q: []int64{7, 2}}, drain, workloads.Completion{Type: histories.OK, Value: []any{int64(7), int64(2)}}},
		{"drain empty", &fakeClient{}, drain, workloads.Completion{Type: histories.OK, Value: []any{}}},
		{"drain unknown", &fakeClient{err: boom}, drain, workloads.Completion{Type: histories.Info, Error: "boom"}},
	} {
		if got := Default.Invoke(context.Background(), c.client, c.inv); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if err := Default.Supports(struct{}{}); err == nil {
		t.Error("Supports accepts a client without queue operations")
	}
}
