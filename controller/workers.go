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
// op timeout). It returns the generator, for the final phase, and the
// first process number no worker used.
func runWorkers(ctx context.Context, plan Plan, wl workloads.Workload, sys System, rec *histories.Recorder, stats *counters, logf func(string, ...any)) (workloads.Generator, histories.Process, error) {
	nodes := workerNodes(plan, sys)
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
		nextProc histories.Process
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
			defer func() {
				errMu.Lock()
				nextProc = max(nextProc, wk.process+1)
				errMu.Unlock()
			}()
		work:
			for {
				select {
				case <-stop:
					break work
				default:
				}
				if limiter != nil {
					// Waiting stops as soon as the test does.
					wctx, cancel := contextUntil(stop)
					err := limiter.Wait(wctx)
					cancel()
					if err != nil {
						break work
					}
				}
				genMu.Lock()
				inv, wait := next(gen, wk.process)
				genMu.Unlock()
				if wait > 0 {
					t := time.NewTimer(wait)
					select {
					case <-stop:
						t.Stop()
						break work
					case <-t.C:
					}
				}
				c, err := wk.do(inv)
				if err != nil {
					fatal(err)
					return
				}
				genMu.Lock()
				gen.Done(inv, c)
				genMu.Unlock()
			}
			if err := wk.finish(gen, &genMu); err != nil {
				fatal(err)
			}
		}(w)
	}
	wg.Wait()
	return gen, nextProc, firstErr
}

// runFinal runs the operations a FinalGenerator asks for once the workload
// is over and the cluster has recovered (a set's final reads, a queue's
// drain): each on a worker of its own, as fresh processes numbered from
// first, at most plan.Concurrency at once, on the nodes in turn, each
// again until it succeeds, for at most plan.RecoveryTimeout in all. Only a
// recorder failure is an error; a final op that fails is recorded as one.
func runFinal(ctx context.Context, plan Plan, wl workloads.Workload, gen workloads.Generator, first histories.Process, sys System, rec *histories.Recorder, stats *counters, logf func(string, ...any)) error {
	fg, ok := gen.(workloads.FinalGenerator)
	if !ok {
		return nil
	}
	invs := fg.Final()
	if len(invs) == 0 {
		return nil
	}
	nodes := workerNodes(plan, sys)
	n := min(max(plan.Concurrency, 1), len(invs))
	// Ops are tried again until this; after it, each gets one attempt.
	deadline := time.Now().Add(time.Duration(plan.RecoveryTimeout))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		todo     = invs
	)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wk := &worker{
				id: w, process: first + histories.Process(w), node: nodes[w%len(nodes)],
				plan: plan, wl: wl, sys: sys, rec: rec, stats: stats, logf: logf,
			}
			defer wk.closeClient()
			for ctx.Err() == nil {
				mu.Lock()
				if len(todo) == 0 || firstErr != nil {
					mu.Unlock()
					return
				}
				inv := todo[0]
				todo = todo[1:]
				mu.Unlock()
				// Until it succeeds, as Jepsen's until-ok: a final read that
				// fails or times out (a node still loading its data after a
				// kill) would leave its key with no final read, and the
				// verdict unknown. Each attempt is recorded, and told to
				// the generator, as any op.
				var c workloads.Completion
				var err error
				for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
					recorded := wk.recorded
					c, err = wk.do(inv)
					// No client, nothing recorded: try the other nodes for
					// a while rather than lose the final read.
					for try := 1; err == nil && wk.recorded == recorded && try < 3*len(nodes) && ctx.Err() == nil; try++ {
						wk.node = nodes[(w+try)%len(nodes)]
						c, err = wk.do(inv)
					}
					if err == nil && wk.recorded == recorded {
						logf("final phase: %s %s not run: no node gave a client", inv.F, inv.Key)
					}
					if err != nil || c.Type == histories.OK || wk.recorded == recorded || ctx.Err() != nil || time.Now().After(deadline) {
						break
					}
					mu.Lock()
					gen.Done(inv, c)
					mu.Unlock()
					logf("final phase: %s %s: %s (%s); again", inv.F, inv.Key, c.Type, c.Error)
					time.Sleep(backoff)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				gen.Done(inv, c)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	return firstErr
}

// finish runs what a ProcessGenerator says the worker's process must
// still do now that the run is over (a lock's release), before its client
// closes; each op has its own timeout, as every op does.
func (w *worker) finish(gen workloads.Generator, genMu *sync.Mutex) error {
	pg, ok := gen.(workloads.ProcessGenerator)
	if !ok || w.client == nil {
		// No client: a new process, which holds nothing.
		return nil
	}
	genMu.Lock()
	invs := pg.Finish(w.process)
	genMu.Unlock()
	for _, inv := range invs {
		c, err := w.do(inv)
		if err != nil {
			return err
		}
		genMu.Lock()
		gen.Done(inv, c)
		genMu.Unlock()
		if c.Type == histories.Info {
			// Retired, its client closed: what it held goes with it.
			return nil
		}
	}
	return nil
}

// workerNodes are the nodes whose clients the workers use, in turn.
func workerNodes(plan Plan, sys System) []string {
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
	return nodes
}

// next asks gen for process p's next operation: a ProcessGenerator's own
// sequence for p, with the pause before it, else the shared stream.
func next(gen workloads.Generator, p histories.Process) (workloads.Invocation, time.Duration) {
	if pg, ok := gen.(workloads.ProcessGenerator); ok {
		return pg.NextFor(p)
	}
	return gen.Next(), 0
}

// initWorkload runs the workload's one-time setup (workloads.Initializer)
// with a client of the first node the workers use, bounded by the plan's
// recovery timeout: the cluster has just answered its health check.
func initWorkload(ctx context.Context, plan Plan, wl workloads.Workload, sys System) error {
	in, ok := wl.(workloads.Initializer)
	if !ok {
		return nil
	}
	nodes := workerNodes(plan, sys)
	if len(nodes) == 0 {
		return fmt.Errorf("workload %s: no node to initialize it from", wl.Name())
	}
	ictx, cancel := context.WithTimeout(ctx, time.Duration(plan.RecoveryTimeout))
	defer cancel()
	c, err := sys.Client(ictx, nodes[0])
	if err != nil {
		return fmt.Errorf("workload %s: init: client for %s: %w", wl.Name(), nodes[0], err)
	}
	defer c.Close()
	if err := wl.Supports(c); err != nil {
		return fmt.Errorf("workload %s on target %s: %w", wl.Name(), plan.Target, err)
	}
	if err := in.Init(ictx, c); err != nil {
		return fmt.Errorf("workload %s: init through %s: %w", wl.Name(), nodes[0], err)
	}
	return nil
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
	// recorded counts the ops this worker completed in the history.
	recorded int
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
	w.recorded++
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
