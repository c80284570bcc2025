package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
)

// UnplugArgs are the arguments of an unplug: which nodes' containers to
// disconnect from their network. Recovering connects them again with the
// same address.
type UnplugArgs struct {
	Nodes Selector

	_ struct{}
}

// Fault implements Args.
func (UnplugArgs) Fault() string { return "unplug" }

type unplugAction struct {
	Nodes []string `json:"nodes"`
}

func (a *unplugAction) Value() any { return stringsValue(a.Nodes) }

func (a *unplugAction) Residue() Residue { return Residue{Nodes: a.Nodes} }

// unplug pulls a container's network cable: the engine disconnects it from
// its network (its interface goes, not just its packets), then connects it
// again with its address. Only nodes that are containers have a cable.
type unplug struct{ env *Env }

func newUnplug(env *Env) Fault { return &unplug{env: env} }

func (u *unplug) Name() string { return "unplug" }

func (u *unplug) engine() (control.Containers, error) {
	e, ok := u.env.Cluster.(control.Containers)
	if !ok {
		return nil, fmt.Errorf("unplug: the %s backend's nodes are not containers", u.env.Cluster.Backend())
	}
	return e, nil
}

func (u *unplug) Setup(ctx context.Context) error {
	_, err := u.engine()
	return err
}

func (u *unplug) Plan(ctx context.Context, args Args, rng *rand.Rand) (Action, error) {
	a, ok := args.(UnplugArgs)
	if !ok {
		return nil, fmt.Errorf("want UnplugArgs, got %T", args)
	}
	nodes, err := a.Nodes.Resolve(ctx, u.env.nodeNames(), u.env.DB, rng)
	if err != nil {
		return nil, err
	}
	return &unplugAction{Nodes: nodes}, nil
}

func (u *unplug) Inject(ctx context.Context, id int64, act Action) error {
	e, err := u.engine()
	if err != nil {
		return err
	}
	return forNodes(act.(*unplugAction).Nodes, func(n string) error {
		// The agent holds the way back, should the controller not come
		// back to replug it.
		note := agent.Action{Kind: agent.KindNote, What: "unplug of " + n, Restart: e.EngineCommand(n, "connect")}
		if _, err := u.env.Agents.Apply(ctx, n, id, note); err != nil {
			return err
		}
		return e.Unplug(ctx, n)
	})
}

func (u *unplug) Recover(ctx context.Context, id int64, act Action) error {
	e, err := u.engine()
	if err != nil {
		return err
	}
	return forNodes(act.(*unplugAction).Nodes, func(n string) error {
		if err := e.Replug(ctx, n); err != nil {
			return err
		}
		_, err := u.env.Agents.Recover(ctx, n, id)
		return err
	})
}

func (u *unplug) Cleanup(ctx context.Context) error { return nil }

// precheckUnplug refuses a node whose container the engine could not
// connect again with its address (control.Containers.CanReplug).
func precheckUnplug(ctx context.Context, c control.Cluster, node string) error {
	e, ok := c.(control.Containers)
	if !ok {
		return fmt.Errorf("the %s backend's nodes are not containers", c.Backend())
	}
	return e.CanReplug(ctx, node)
}
