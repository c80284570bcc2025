package controller

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/targets"
	"github.com/faultline-dev/faultline/workloads"
)

// counters are the live tallies the progress line shows.
type counters struct {
	ok, fail, info, completed atomic.Int64
	// faults says what faults are in effect; nil when there is no nemesis.
	faults func() string
}

// runWorkers runs plan.Concurrency workers until the time limit or ctx is
// done, then waits for in-flight operations to finish (each bounded by its
// op timeout).
func runWorkers(ctx context.Context, plan Plan, wl workloads.Workload, sys System, rec *histories.Recorder, stats *counters, logf func(string, ...any)) error {
	nodes := plan.Nodes.Names()
	if fs, ok := sys.(faultable); ok && fs.Cluster() != nil {
		// The cluster's own names: attached containers name themselves.
		nodes = control.NodeNames(fs.Cluster())
		// Ops go to the nodes that serve (PostgreSQL's one server), not
		// to nodes that run nothing.
		if s, ok := fs.DB().(targets.Servers); ok && len(s.Servers()) > 0 {
			nodes = s.Servers()
		}
	}
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	timer := time.AfterFunc(time.Duration(plan.TimeLimit), halt)
	defer timer.Stop()
	go func() {
		select {
		case <-ctx.Done():
			halt()
		case <-stop:
		}
	}()

	var limiter *rate.Limiter
	if plan.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(plan.Rate), 1)
	}
	var genMu sync.Mutex
	gen := wl.NewGenerator(plan.Seed)

	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	fatal := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		halt()
	}
	for w := 0; w < plan.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					logf("worker %d panic: %v\n%s", w, p, debug.Stack())
					fatal(fmt.Errorf("worker %d panicked: %v", w, p))
				}
			}()
			wk := &worker{
				id: w, process: histories.Process(w), node: nodes[w%len(nodes)],
				plan: plan, wl: wl, sys: sys, rec: rec, stats: stats, logf: logf,
			}
			defer wk.closeClient()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if limiter != nil {
					// Waiting stops as soon as the test does.
					wctx, cancel := contextUntil(stop)
					err := limiter.Wait(wctx)
					cancel()
					if err != nil {
						return
					}
				}
				genMu.Lock()
				inv := gen.Next()
				genMu.Unlock()
				c, err := wk.do(inv)
				if err != nil {
					fatal(err)
					return
				}
				genMu.Lock()
				gen.Done(inv, c)
				genMu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	return firstErr
}

// contextUntil is a context cancelled when stop closes.
func contextUntil(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

type worker struct {
	id      int
	process histories.Process
	node    string
	client  io.Closer
	plan    Plan
	wl      workloads.Workload
	sys     System
	rec     *histories.Recorder
	stats   *counters
	logf    func(string, ...any)
}

func (w *worker) closeClient() {
	if w.client != nil {
		_ = w.client.Close()
		w.client = nil
	}
}

// do performs one operation: invoke recorded, op run under its timeout,
// completion recorded. Only a recorder failure is an error: the history
// must not have holes.
func (w *worker) do(inv workloads.Invocation) (workloads.Completion, error) {
	if w.client == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(w.plan.OpTimeout))
		c, err := w.sys.Client(ctx, w.node)
		cancel()
		if err != nil {
			// No client, no op: nothing is recorded; retry after a pause.
			w.logf("worker %d: client for %s: %v", w.id, w.node, err)
			time.Sleep(200 * time.Millisecond)
			return workloads.Completion{Type: histories.Fail}, nil
		}
		if err := w.wl.Supports(c); err != nil {
			_ = c.Close()
			return workloads.Completion{}, fmt.Errorf("workload %s on target %s: %w", w.wl.Name(), w.plan.Target, err)
		}
		w.client = c
	}
	if _, err := w.rec.Record(histories.Op{Process: w.process, Type: histories.Invoke, F: inv.F, Key: inv.Key, Value: inv.Value}); err != nil {
		return workloads.Completion{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(w.plan.OpTimeout))
	c := w.invoke(ctx, inv)
	cancel()
	if _, err := w.rec.Record(histories.Op{Process: w.process, Type: c.Type, F: inv.F, Key: inv.Key, Value: c.Value, Node: w.node, Error: c.Error}); err != nil {
		return c, err
	}
	w.stats.completed.Add(1)
	switch c.Type {
	case histories.OK:
		w.stats.ok.Add(1)
	case histories.Fail:
		w.stats.fail.Add(1)
	default:
		w.stats.info.Add(1)
		// Unknown outcome: this process is retired; go on as a new one
		// with a fresh client, as Jepsen does.
		w.process += histories.Process(w.plan.Concurrency)
		w.closeClient()
	}
	return c, nil
}

// invoke runs the workload's op, turning a panic in client code into an
// info completion (its effect is unknown) before re-raising it.
func (w *worker) invoke(ctx context.Context, inv workloads.Invocation) (c workloads.Completion) {
	defer func() {
		if p := recover(); p != nil {
			_, _ = w.rec.Record(histories.Op{Process: w.process, Type: histories.Info, F: inv.F, Key: inv.Key, Value: inv.Value, Node: w.node, Error: fmt.Sprintf("panic: %v", p)})
			panic(p)
		}
	}()
	return w.wl.Invoke(ctx, w.client, inv)
}
