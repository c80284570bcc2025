package uniqueids

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

type fakeClient struct {
	next int64
	err  error
	def  bool
}

func (f *fakeClient) Generate(context.Context) (int64, error) {
	f.next++
	return f.next, f.err
}
func (f *fakeClient) Definite(error) bool { return f.def }

func TestGeneratorAndInvoke(t *testing.T) {
	g := Default.NewGenerator(1)
	for range 10 {
		if inv := g.Next(); !reflect.DeepEqual(inv, workloads.Invocation{F: "generate"}) {
			t.Fatalf("Next = %+v, want a generate without value", inv)
		}
	}
	boom := errors.New("boom")
	gen := workloads.Invocation{F: "generate"}
	for _, c := range []struct {
		name   string
		client *fakeClient
		want   workloads.Completion
	}{
		{"ok", &fakeClient{next: 41}, workloads.Completion{Type: histories.OK, Value: int64(42)}},
		{"definite", &fakeClient{err: boom, def: true}, workloads.Completion{Type: histories.Fail, Error: "boom"}},
		{"unknown", &fakeClient{err: boom}, workloads.Completion{Type: histories.Info, Error: "boom"}},
	} {
		if got := Default.Invoke(context.Background(), c.client, gen); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if Default.Name() != "unique-ids" {
		t.Errorf("name %q, want Jepsen's unique-ids", Default.Name())
	}
	if err := Default.Supports(struct{}{}); err == nil {
		t.Error("Supports accepts a client without Generate")
	}
}
