package set

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/faultline-dev/faultline/workloads/workloadtest"

	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

func TestGeneratorIsDeterministic(t *testing.T) { workloadtest.Deterministic(t, Default) }

func TestGeneratorShapes(t *testing.T) {
	w := &Workload{ActiveKeys: 3, AddsPerKey: 50, ReadEvery: 4}
	g := w.NewGenerator(1)
	invs := workloadtest.Take(g, 5000)
	adds := map[string]int{}
	used := map[string]bool{}
	last := int64(-1)
	reads := 0
	for _, inv := range invs {
		used[inv.Key] = true
		switch inv.F {
		case "add":
			e, ok := inv.Value.(int64)
			if !ok || e != last+1 {
				t.Fatalf("add of %v after %d: want the next integer", inv.Value, last)
			}
			last = e
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
	for k, n := range adds {
		if n > w.AddsPerKey {
			t.Errorf("key %s got %d adds, more than %d", k, n, w.AddsPerKey)
		}
	}
	// 1 read per 4 adds: a fifth of the ops.
	if frac := float64(reads) / float64(len(invs)); frac < 0.16 || frac > 0.24 {
		t.Errorf("reads are %.2f of the ops, want about 0.2", frac)
	}
	if len(used) < 5000*4/5/w.AddsPerKey {
		t.Errorf("only %d keys used: keys do not rotate", len(used))
	}

	// The final reads cover every key used, once each.
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
	elems []int64
	err   error
	def   bool
}

func (f *fakeClient) SetAdd(_ context.Context, _ string, e int64) error {
	if f.err != nil {
		return f.err
	}
	f.elems = append(f.elems, e)
	return nil
}
func (f *fakeClient) SetRead(context.Context, string) ([]int64, error) { return f.elems, f.err }
func (f *fakeClient) Definite(error) bool                              { return f.def }

func TestInvoke(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name   string
		client *fakeClient
		inv    workloads.Invocation
		want   workloads.Completion
	}{
		{"add", &fakeClient{}, workloads.Invocation{F: "add", Key: "0", Value: int64(3)}, workloads.Completion{Type: histories.OK, Value: int64(3)}},
		{"add definite", &fakeClient{err: boom, def: true}, workloads.Invocation{F: "add", Key: "0", Value: int64(3)}, workloads.Completion{Type: histories.Fail, Value: int64(3), Error: "boom"}},
		{"add unknown", &fakeClient{err: boom}, workloads.Invocation{F: "add", Key: "0", Value: int64(3)}, workloads.Completion{Type: histories.Info, Value: int64(3), Error: "boom"}},
		{"read sorted", &fakeClient{elems: []int64{10, 2, 9}}, workloads.Invocation{F: "read", Key: "0"}, workloads.Completion{Type: histories.OK, Value: []any{int64(2), int64(9), int64(10)}}},
		{"read empty", &fakeClient{}, workloads.Invocation{F: "read", Key: "0"}, workloads.Completion{Type: histories.OK, Value: []any{}}},
		{"read error", &fakeClient{err: boom}, workloads.Invocation{F: "read", Key: "0"}, workloads.Completion{Type: histories.Fail, Error: "boom"}},
	} {
		got := Default.Invoke(context.Background(), c.client, c.inv)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	// A read's value is a JSON list in the history.
	got := Default.Invoke(context.Background(), &fakeClient{elems: []int64{1, 2}}, workloads.Invocation{F: "read", Key: "0"})
	if b, _ := json.Marshal(got.Value); string(b) != "[1,2]" {
		t.Errorf("read value as JSON: %s, want [1,2]", b)
	}
	if err := Default.Supports(&fakeClient{}); err != nil {
		t.Error(err)
	}
	if err := Default.Supports(struct{}{}); err == nil {
		t.Error("Supports accepts a client without set operations")
	}
}
