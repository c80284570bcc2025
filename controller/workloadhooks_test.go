package controller

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
	"github.com/faultline-dev/faultline/workloads/register"
)

// hooksWorkload exercises the controller's optional workload hooks:
// Initializer (once, before any op) and ProcessGenerator (each process's
// own sequence, with a pause before some ops). Its ops are register
// writes to a key per process, so the memory target runs it.
type hooksWorkload struct {
	name    string
	initErr error

	inits    atomic.Int32
	invoked  atomic.Bool
	initLate atomic.Bool
	gen      atomic.Pointer[hooksGenerator]
}

const hooksWait = 30 * time.Millisecond

func (w *hooksWorkload) Name() string         { return w.name }
func (w *hooksWorkload) Doc() string          { return "controller hooks test" }
func (w *hooksWorkload) Check() suite.Options { return suite.Options{Model: "cas-register"} }
func (w *hooksWorkload) Supports(client any) error {
	if _, ok := client.(register.Client); !ok {
		return errors.New("no register")
	}
	return nil
}

func (w *hooksWorkload) Init(ctx context.Context, client any) error {
	w.inits.Add(1)
	if w.invoked.Load() {
		w.initLate.Store(true)
	}
	if w.initErr != nil {
		return w.initErr
	}
	return client.(register.Client).Write(ctx, "init", 1)
}

func (w *hooksWorkload) Invoke(ctx context.Context, client any, inv workloads.Invocation) workloads.Completion {
	w.invoked.Store(true)
	if err := client.(register.Client).Write(ctx, inv.Key, inv.Value.(int64)); err != nil {
		return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: err.Error()}
	}
	return workloads.Completion{Type: histories.OK, Value: inv.Value}
}

func (w *hooksWorkload) NewGenerator(int64) workloads.Generator {
	g := &hooksGenerator{n: map[histories.Process]int64{}, finished: map[histories.Process]int64{}}
	w.gen.Store(g)
	return g
}

// hooksGenerator writes 1, 2, 3, … to key "p<process>", pausing before
// every even value.
type hooksGenerator struct {
	mu       sync.Mutex
	n        map[histories.Process]int64
	finished map[histories.Process]int64
}

func (g *hooksGenerator) Next() workloads.Invocation {
	panic("the controller must call NextFor")
}

func (g *hooksGenerator) NextFor(p histories.Process) (workloads.Invocation, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n[p]++
	var wait time.Duration
	if g.n[p]%2 == 0 {
		wait = hooksWait
	}
	return workloads.Invocation{F: "write", Key: "p" + strconv.Itoa(int(p)), Value: g.n[p]}, wait
}

// Finish writes the next value once more, without a pause.
func (g *hooksGenerator) Finish(p histories.Process) []workloads.Invocation {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n[p]++
	g.finished[p] = g.n[p]
	return []workloads.Invocation{{F: "write", Key: "p" + strconv.Itoa(int(p)), Value: g.n[p]}}
}

func (g *hooksGenerator) Done(workloads.Invocation, workloads.Completion) {}

var (
	hooksOK   = &hooksWorkload{name: "test-hooks"}
	hooksFail = &hooksWorkload{name: "test-hooks-init-fails", initErr: errors.New("no accounts today")}
)

func init() {
	workloads.Register(hooksOK)
	workloads.Register(hooksFail)
}

func TestWorkloadHooks(t *testing.T) {
	p := memoryPlan(t, "memory")
	p.Workload = hooksOK.name
	p.TimeLimit = Duration(time.Second)
	res, err := Run(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := hooksOK.inits.Load(); n != 1 || hooksOK.initLate.Load() {
		t.Fatalf("Init called %d times (late: %v), want once before any op", n, hooksOK.initLate.Load())
	}
	if res.Results.Valid != checker.Valid {
		t.Errorf("verdict %s", res.Results.Valid)
	}
	h, err := histories.ReadFile(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// Every op is the one NextFor made for the process that ran it, and
	// each process's values run 1, 2, 3, … with the pause before the even
	// ones.
	finished := hooksOK.gen.Load().finished
	last := map[histories.Process]histories.Op{}
	for _, op := range h {
		if op.Process == histories.Nemesis {
			continue
		}
		if op.Key != "p"+strconv.Itoa(int(op.Process)) {
			t.Fatalf("process %d ran an op made for %s", op.Process, op.Key)
		}
		if op.Type != histories.Invoke {
			last[op.Process] = op
			continue
		}
		prev, seen := last[op.Process]
		v, _ := op.Value.(int64)
		if !seen {
			if v != 1 {
				t.Fatalf("process %d starts with %d, want 1", op.Process, v)
			}
			continue
		}
		// The Finish op may follow an op that was cut short in its pause.
		if pv, _ := prev.Value.(int64); v != pv+1 && (v != finished[op.Process] || v != pv+2) {
			t.Fatalf("process %d: %d after %d", op.Process, v, pv)
		}
		if gap := time.Duration(op.Time - prev.Time); v%2 == 0 && v != finished[op.Process] && gap < hooksWait {
			t.Fatalf("process %d invoked %d %v after its previous op, want a pause of %v", op.Process, v, gap, hooksWait)
		}
	}
	if len(last) != p.Concurrency {
		t.Errorf("%d processes ran, want %d", len(last), p.Concurrency)
	}
	// Each process ended with what Finish asked of it.
	for proc, op := range last {
		if v, _ := op.Value.(int64); finished[proc] == 0 || v != finished[proc] {
			t.Errorf("process %d ended with %v, want its Finish op (%d)", proc, op.Value, finished[proc])
		}
	}
}

// A workload whose Init fails fails the run's setup: no op runs, and the
// store says why.
func TestWorkloadInitFails(t *testing.T) {
	p := memoryPlan(t, "memory")
	p.Workload = hooksFail.name
	res, err := Run(context.Background(), p, Options{})
	if err == nil || !strings.Contains(err.Error(), "no accounts today") {
		t.Fatalf("Run with a failing Init: %v, want its error", err)
	}
	if hooksFail.invoked.Load() {
		t.Error("ops ran after Init failed")
	}
	b, rerr := os.ReadFile(filepath.Join(res.Dir, "results.json"))
	if rerr != nil || !strings.Contains(string(b), `"valid": "unknown"`) || !strings.Contains(string(b), "no accounts today") {
		t.Errorf("results.json of a run whose Init failed: %v\n%.600s", rerr, b)
	}
}
