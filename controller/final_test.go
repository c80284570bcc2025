package controller

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

// flakyFinal is a workload whose final reads of key "1" fail twice and
// then time out once (info) before they succeed, as reads do on a node
// still loading its data after a kill.
type flakyFinal struct {
	mu    sync.Mutex
	tries map[string]int
	done  []workloads.Completion
}

func (w *flakyFinal) Name() string                           { return "flaky-final" }
func (w *flakyFinal) Doc() string                            { return "" }
func (w *flakyFinal) NewGenerator(int64) workloads.Generator { return w }
func (w *flakyFinal) Supports(any) error                     { return nil }
func (w *flakyFinal) Check() suite.Options                   { return suite.Options{} }
func (w *flakyFinal) Next() workloads.Invocation             { return workloads.Invocation{} }
func (w *flakyFinal) Final() []workloads.Invocation {
	return []workloads.Invocation{{F: "read", Key: "0"}, {F: "read", Key: "1"}}
}
func (w *flakyFinal) Done(_ workloads.Invocation, c workloads.Completion) {
	w.mu.Lock()
	w.done = append(w.done, c)
	w.mu.Unlock()
}

func (w *flakyFinal) Invoke(_ context.Context, _ any, inv workloads.Invocation) workloads.Completion {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tries[inv.Key]++
	if inv.Key == "1" {
		switch w.tries[inv.Key] {
		case 1, 2:
			return workloads.Completion{Type: histories.Fail, Error: "LOADING"}
		case 3:
			return workloads.Completion{Type: histories.Info, Error: "timeout"}
		}
	}
	return workloads.Completion{Type: histories.OK, Value: int64(7)}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

type clientSystem struct{ System }

func (clientSystem) Client(context.Context, string) (io.Closer, error) { return nopCloser{}, nil }

// A final op that fails or times out is tried again until it succeeds,
// each attempt recorded (an info one retires its process), so that no key
// is left without its final read.
func TestFinalOpsUntilOK(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := histories.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &flakyFinal{tries: map[string]int{}}
	plan := Plan{Concurrency: 2, OpTimeout: Duration(time.Second), RecoveryTimeout: Duration(10 * time.Second)}
	plan.Nodes = Nodes{{Name: "n1"}}
	if err := runFinal(context.Background(), plan, w, w, 100, clientSystem{}, rec, &counters{}, t.Logf); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := histories.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := histories.Pairs(h, path); err != nil {
		t.Fatalf("the history does not pair (a retired process reused?): %v", err)
	}
	if w.tries["1"] != 4 || w.tries["0"] != 1 {
		t.Fatalf("tries %v, want key 1 four times (fail, fail, info, ok) and key 0 once", w.tries)
	}
	if len(h) != 10 || len(w.done) != 5 {
		t.Fatalf("%d history events and %d completions told, want 10 and 5:\n%v", len(h), len(w.done), h)
	}
	last := h[len(h)-1]
	if last.Key != "1" || last.Type != histories.OK {
		t.Fatalf("the last op is %v, want key 1's successful read", last)
	}
}
