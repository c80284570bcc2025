package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/targets"
)

// PartitionArgs are the arguments of a network partition.
type PartitionArgs struct {
	// Grudge is how to cut the network; empty means a random kind from
	// GrudgeKinds, or primaries when the target can tell them (one node
	// instead when, at that moment, no node believes it leads).
	Grudge GrudgeKind
	// Explicit is the grudge for GrudgeExplicit.
	Explicit Grudge
	// Nodes are the nodes GrudgeIsolate cuts off.
	Nodes Selector

	_ struct{}
}

// Fault implements Args.
func (PartitionArgs) Fault() string { return "partition" }

// partitionAction is a resolved partition: the grudge, and the peers'
// addresses each node drops.
type partitionAction struct {
	Kind   GrudgeKind `json:"kind"`
	Grudge Grudge     `json:"grudge"`
	// Nodes are the nodes holding rules.
	Nodes []string `json:"nodes"`
	// addrs are the nodes' addresses, by name.
	addrs map[string]string
}

func (a *partitionAction) Value() any { return a.Grudge.Value() }

func (a *partitionAction) Residue() Residue { return Residue{Nodes: a.Nodes} }

// partition cuts links between nodes: each node's agent drops packets
// from and to the peers it holds a grudge against, in faultline's own
// iptables chain (Jepsen's net/drop!; heal empties the chain).
type partition struct{ env *Env }

func newPartition(env *Env) Fault { return &partition{env: env} }

func (p *partition) Name() string { return "partition" }

func (p *partition) Setup(ctx context.Context) error {
	return forNodes(p.env.nodeNames(), func(n string) error {
		return p.env.Agents.Setup(ctx, n, agent.PartitionChain)
	})
}

func (p *partition) Plan(ctx context.Context, args Args, rng *rand.Rand) (Action, error) {
	pa, ok := args.(PartitionArgs)
	if !ok {
		return nil, fmt.Errorf("want PartitionArgs, got %T", args)
	}
	nodes := p.env.nodeNames()
	kind := pa.Grudge
	if kind == "" {
		// A target that can tell its primaries gets its leaders isolated
		// too, the partition that matters most to a leader-based system.
		pool := GrudgeKinds
		if _, ok := p.env.DB.(targets.Primaries); ok {
			pool = append(slices.Clone(GrudgeKinds), GrudgePrimaries)
		}
		kind = pool[rng.IntN(len(pool))]
		if kind == GrudgeMajoritiesRing && len(nodes) < 4 {
			kind = GrudgeOne
		}
	}
	var picked []string
	var err error
	switch kind {
	case GrudgePrimaries:
		picked, err = primaries(ctx, p.env.DB)
		if err != nil && pa.Grudge == "" {
			// Drawn at random at a moment with no leader (an election
			// going on): cut one node off instead of skipping the fault.
			kind, err = GrudgeOne, nil
		}
	case GrudgeIsolate:
		picked, err = pa.Nodes.Resolve(ctx, nodes, p.env.DB, rng)
	}
	if err != nil {
		return nil, err
	}
	g, err := MakeGrudge(kind, nodes, rng, picked, pa.Explicit)
	if err != nil {
		return nil, err
	}
	a := &partitionAction{Kind: kind, Grudge: g, addrs: map[string]string{}}
	for _, n := range p.env.Cluster.Nodes() {
		a.addrs[n.Name] = n.Addr.String()
	}
	for _, n := range nodes {
		if len(g[n]) > 0 {
			a.Nodes = append(a.Nodes, n)
		}
	}
	return a, nil
}

func (p *partition) Inject(ctx context.Context, id int64, act Action) error {
	a := act.(*partitionAction)
	return forNodes(a.Nodes, func(n string) error {
		var peers []string
		for _, peer := range a.Grudge[n] {
			peers = append(peers, a.addrs[peer])
		}
		_, err := p.env.Agents.Apply(ctx, n, id, agent.Action{Kind: agent.KindDrop, Peers: peers})
		return err
	})
}

func (p *partition) Recover(ctx context.Context, id int64, act Action) error {
	return recoverAll(ctx, p.env, act.(*partitionAction).Nodes, id)
}

func (p *partition) Cleanup(ctx context.Context) error {
	return forNodes(p.env.nodeNames(), func(n string) error {
		return p.env.Agents.Cleanup(ctx, n, agent.PartitionChain)
	})
}
