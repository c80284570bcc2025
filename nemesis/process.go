package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
)

// KillArgs are the arguments of a kill: which nodes' service to SIGKILL.
// Recovering restarts them on the data they had.
type KillArgs struct {
	Nodes Selector

	_ struct{}
}

// Fault implements Args.
func (KillArgs) Fault() string { return "kill" }

// PauseArgs are the arguments of a pause: which nodes' service to SIGSTOP.
// Recovering sends SIGCONT.
type PauseArgs struct {
	Nodes Selector

	_ struct{}
}

// Fault implements Args.
func (PauseArgs) Fault() string { return "pause" }

// nodesAction is a kill or pause of some nodes.
type nodesAction struct {
	Nodes []string `json:"nodes"`
	// Refs locate the nodes (kill) and Procs are the processes that were in
	// them (pause), for heal.
	Refs  []NodeRef `json:"refs,omitempty"`
	Procs []ProcRef `json:"procs,omitempty"`
	kill  bool

	mu   sync.Mutex
	done map[string]bool // nodes the fault has been applied to
}

func (a *nodesAction) Value() any { return stringsValue(a.Nodes) }

func (a *nodesAction) Residue() Residue {
	if a.kill {
		return Residue{Killed: a.Refs}
	}
	return Residue{Stopped: a.Procs}
}

func (a *nodesAction) mark(node string, applied bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if applied {
		a.done[node] = true
	} else {
		delete(a.done, node)
	}
}

func (a *nodesAction) applied() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, n := range a.Nodes {
		if a.done[n] {
			out = append(out, n)
		}
	}
	return out
}

func stringsValue(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// signalFault is kill (SIGKILL, then a restart) or pause (SIGSTOP, then
// SIGCONT), through the target, which knows its processes.
type signalFault struct {
	env  *Env
	kill bool
}

func newKill(env *Env) Fault  { return &signalFault{env: env, kill: true} }
func newPause(env *Env) Fault { return &signalFault{env: env} }

func (f *signalFault) Name() string {
	if f.kill {
		return "kill"
	}
	return "pause"
}

func (f *signalFault) Setup(ctx context.Context) error {
	if f.env.DB == nil {
		return fmt.Errorf("no target to %s nodes of", f.Name())
	}
	return nil
}

func (f *signalFault) Plan(ctx context.Context, args Args, rng *rand.Rand) (Action, error) {
	var sel Selector
	switch a := args.(type) {
	case KillArgs:
		sel = a.Nodes
	case PauseArgs:
		sel = a.Nodes
	default:
		return nil, fmt.Errorf("want KillArgs or PauseArgs, got %T", args)
	}
	nodes, err := sel.Resolve(ctx, f.env.nodeNames(), f.env.DB, rng)
	if err != nil {
		return nil, err
	}
	a := &nodesAction{Nodes: nodes, kill: f.kill, done: map[string]bool{}}
	for _, n := range nodes {
		if f.kill {
			a.Refs = append(a.Refs, nodeRef(f.env.Cluster, n))
			continue
		}
		// The pids to SIGCONT if this controller dies; a backend that
		// cannot list them leaves that to its own teardown.
		if ps, err := nodeProcs(f.env.Cluster, n); err == nil {
			a.Procs = append(a.Procs, ps...)
		}
	}
	return a, nil
}

func (f *signalFault) Inject(ctx context.Context, act Action) error {
	a := act.(*nodesAction)
	return forNodes(a.Nodes, func(n string) error {
		// Marked before: a kill or pause that fails half-way may have
		// taken effect, and recovering a node that is fine is harmless.
		a.mark(n, true)
		if f.kill {
			return f.env.DB.Kill(ctx, n)
		}
		return f.env.DB.Pause(ctx, n)
	})
}

func (f *signalFault) Recover(ctx context.Context, act Action) error {
	a := act.(*nodesAction)
	return forNodes(a.applied(), func(n string) error {
		var err error
		if f.kill {
			err = f.env.DB.Start(ctx, n)
			if err != nil && f.running(ctx, n) {
				err = nil // it was not killed after all
			}
		} else {
			err = f.env.DB.Resume(ctx, n)
		}
		if err == nil {
			a.mark(n, false)
		}
		return err
	})
}

// running reports whether node's service runs. targets.DB has no such
// question, so it asks for a Resume (SIGCONT), which is harmless to a
// running service and fails for a dead one. It matters only when a kill
// failed half-way and Start then finds the service still running.
func (f *signalFault) running(ctx context.Context, node string) bool {
	return f.env.DB.Resume(ctx, node) == nil
}

func (f *signalFault) Cleanup(ctx context.Context) error { return nil }
