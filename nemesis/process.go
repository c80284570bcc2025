package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/targets"
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
	kill  bool

	mu   sync.Mutex
	done map[string]bool // nodes the fault has been applied to
}

func (a *nodesAction) Value() any { return stringsValue(a.Nodes) }

func (a *nodesAction) Residue() Residue {
	if a.kill {
		return Residue{Nodes: a.Nodes, Killed: a.Nodes}
	}
	return Residue{Nodes: a.Nodes}
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

// signalFault is kill (SIGKILL through the target, then a restart through
// the target) or pause (SIGSTOP of the target's process trees by the
// node's agent, then SIGCONT).
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
	sel, ok := argsNodes(args)
	if !ok || args.Fault() != f.Name() {
		return nil, fmt.Errorf("%s: want %s arguments, got %T", f.Name(), f.Name(), args)
	}
	nodes, err := sel.Resolve(ctx, f.env.nodeNames(), f.env.DB, rng)
	if err != nil {
		return nil, err
	}
	return &nodesAction{Nodes: nodes, kill: f.kill, done: map[string]bool{}}, nil
}

func (f *signalFault) Inject(ctx context.Context, id int64, act Action) error {
	a := act.(*nodesAction)
	return forNodes(a.Nodes, func(n string) error {
		// Marked before: a kill or pause that fails half-way may have
		// taken effect, and recovering a node that is fine is harmless.
		a.mark(n, true)
		if f.kill {
			return f.killNode(ctx, id, n)
		}
		roots, err := f.env.DB.Processes(ctx, n)
		if err != nil {
			return err
		}
		if len(roots) == 0 {
			// Nothing runs there (a kill is in effect): nothing to pause.
			f.env.logf("nemesis: pause: nothing runs on %s", n)
			return nil
		}
		if e, ok := f.env.Cluster.(control.Containers); ok && e.UseFreezer() {
			// The engine's freezer; the agent holds the way back.
			note := agent.Action{Kind: agent.KindNote, What: "docker pause of " + n, Restart: e.EngineCommand(n, "unpause")}
			if _, err := f.env.Agents.Apply(ctx, n, id, note); err != nil {
				return err
			}
			return e.Freeze(ctx, n)
		}
		_, err = f.env.Agents.Apply(ctx, n, id, agent.Action{Kind: agent.KindStop, Roots: agent.ProcsOf(roots)})
		return err
	})
}

// killNode records the kill with the node's agent (with the command that
// restarts the service, for a cluster faultline does not run itself, in
// case the controller dies before it recovers), then kills.
func (f *signalFault) killNode(ctx context.Context, id int64, node string) error {
	note := agent.Action{Kind: agent.KindNote, What: "kill of the target on " + node}
	if r, ok := f.env.DB.(targets.Restarter); ok {
		note.Restart = r.RestartCommand(node)
	}
	if _, err := f.env.Agents.Apply(ctx, node, id, note); err != nil {
		return err
	}
	return f.env.DB.Kill(ctx, node)
}

func (f *signalFault) Recover(ctx context.Context, id int64, act Action) error {
	a := act.(*nodesAction)
	return forNodes(a.applied(), func(n string) error {
		if f.kill {
			if err := f.env.DB.Start(ctx, n); err != nil && !f.running(ctx, n) {
				return err
			}
		} else if e, ok := f.env.Cluster.(control.Containers); ok && e.UseFreezer() {
			if err := e.Thaw(ctx, n); err != nil {
				return err
			}
		}
		undone, err := f.env.Agents.Recover(ctx, n, id)
		for _, u := range undone {
			f.env.logf("nemesis: %s: %s", n, u)
		}
		if err == nil {
			a.mark(n, false)
		}
		return err
	})
}

// running reports whether node's service runs: a kill that failed half-way
// leaves it running, and Start then fails for that reason.
func (f *signalFault) running(ctx context.Context, node string) bool {
	ps, err := f.env.DB.Processes(ctx, node)
	return err == nil && len(ps) > 0
}

func (f *signalFault) Cleanup(ctx context.Context) error { return nil }
