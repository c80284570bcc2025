package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
)

// Need is something a fault needs of every node, checked against what the
// node's agent finds there (agent.Facts) before a test sets anything up.
type Need string

// What faults need.
const (
	// NeedIptables: iptables and iptables-restore, as root.
	NeedIptables Need = "iptables"
	// NeedDelay: tc with netem, or netfilter's NFQUEUE, to delay packets.
	NeedDelay Need = "netem or NFQUEUE"
	// NeedPtrace: ptrace of the target's processes, on x86-64, as root.
	NeedPtrace Need = "ptrace"
	// NeedSignals: root, to signal the target's processes.
	NeedSignals Need = "root"
)

// lacks says why facts do not meet need ("" when they do).
func (n Need) lacks(f agent.Facts) string {
	switch n {
	case NeedIptables:
		var miss []string
		if !f.Iptables {
			miss = append(miss, "iptables")
		}
		if !f.IptablesRestore {
			miss = append(miss, "iptables-restore")
		}
		if len(miss) > 0 {
			return "lacks " + strings.Join(miss, " and ") + " (apt-get install iptables)"
		}
		if !f.Root {
			return "lacks root: the agent does not run as root (log in as root, or as a user with passwordless sudo)"
		}
	case NeedDelay:
		if !(f.Netem && f.Tc) && !f.Nfqueue {
			return "has neither tc netem nor netfilter's NFQUEUE to delay packets"
		}
	case NeedPtrace:
		if !f.Ptrace {
			return "cannot ptrace its processes to skew their clocks: " + f.PtraceWhy
		}
	case NeedSignals:
		if !f.Root {
			return "lacks root (the agent does not run as root, so it cannot signal the service)"
		}
	}
	return ""
}

// Spec is a fault in the registry.
type Spec struct {
	// Name is what plans, schedules and `faultline nemesis` call it.
	Name string
	// Doc is one line for `faultline list`.
	Doc string
	// Needs are what it needs of every node; NeedsTarget says it acts on
	// the system under test (kill, pause, clock).
	Needs       []Need
	NeedsTarget bool
	// NeedsContainers says it acts on nodes that are containers
	// (control.Containers: --control docker).
	NeedsContainers bool
	// Precheck, if set, says why a node of the cluster could not have the
	// fault (nil: it can). Check calls it for every node once the needs
	// above are met.
	Precheck func(ctx context.Context, c control.Cluster, node string) error
	// New makes the fault on env.
	New func(env *Env) Fault
	// Random draws arguments for a schedule.
	Random func(rng *rand.Rand) Args

	_ struct{}
}

// registry holds every fault, one line each.
var registry = []Spec{
	{Name: "partition", Doc: "cut the network with a grudge (one, halves, random-halves, majority, minority, majorities-ring, bridge, primaries, isolate, or explicit) using iptables in each node", New: newPartition,
		Needs:  []Need{NeedIptables},
		Random: func(*rand.Rand) Args { return PartitionArgs{} }},
	{Name: "kill", Doc: "SIGKILL the target on some nodes (one, minority, majority, primaries, all, or named), restart it on the same data to recover", New: newKill,
		NeedsTarget: true,
		Random:      func(rng *rand.Rand) Args { return KillArgs{Nodes: randomSelector(rng)} }},
	{Name: "pause", Doc: "SIGSTOP the target's processes on some nodes, SIGCONT to recover", New: newPause,
		Needs: []Need{NeedSignals}, NeedsTarget: true,
		Random: func(rng *rand.Rand) Args { return PauseArgs{Nodes: randomSelector(rng)} }},
	{Name: "clock", Doc: "skew the clocks of the target's processes on some nodes: bump (ms to minutes) or strobe, reset to recover; records check-offsets", New: newClock,
		Needs: []Need{NeedPtrace}, NeedsTarget: true,
		Random: func(rng *rand.Rand) Args { return ClockArgs{Nodes: randomSelector(rng)} }},
	{Name: "packet", Doc: "lose (iptables statistic), rate-limit (hashlimit) or delay ± jitter (netem, else an NFQUEUE delayer in the node's agent) packets between nodes", New: newPacket,
		Needs:  []Need{NeedIptables, NeedDelay},
		Random: func(rng *rand.Rand) Args { return PacketArgs{Nodes: randomSelector(rng)} }},
	{Name: "unplug", Doc: "disconnect containers from their network (the interface goes), connect them again with the same address to recover", New: newUnplug,
		NeedsContainers: true, Precheck: precheckUnplug,
		Random: func(rng *rand.Rand) Args { return UnplugArgs{Nodes: randomSelector(rng)} }},
}

func randomSelector(rng *rand.Rand) Selector {
	return Select(SelectKinds[rng.IntN(len(SelectKinds))])
}

// All lists every fault, in registry order.
func All() []Spec { return slices.Clone(registry) }

// Names lists every fault's name, in registry order.
func Names() []string {
	out := make([]string, len(registry))
	for i, s := range registry {
		out[i] = s.Name
	}
	return out
}

// Lookup finds a fault by name.
func Lookup(name string) (Spec, error) {
	for _, s := range registry {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Check refuses faults that a node of c or the target cannot do, saying
// which node lacks what: every node's agent is asked what it can do
// (agent.Facts). hasTarget says whether there is a system under test for
// kill, pause and clock. Faults are names or specs (kill:one). Call it
// before anything is set up on the nodes.
func Check(ctx context.Context, c control.Cluster, agents *agent.Pool, faults []string, hasTarget bool) (map[string]agent.Facts, error) {
	// Faults may come as specs with parameters (kill:one).
	var names []string
	for _, f := range faults {
		if name := SpecName(f); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	faults = names
	var needs []Need
	var errs []string
	for _, name := range faults {
		spec, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		if spec.NeedsTarget && !hasTarget {
			errs = append(errs, fmt.Sprintf("%s needs a target running on the nodes", name))
		}
		if _, ok := c.(control.Containers); spec.NeedsContainers && !ok {
			errs = append(errs, fmt.Sprintf("%s needs nodes that are containers (--control docker), and these are %s nodes", name, c.Backend()))
		}
		for _, n := range spec.Needs {
			if !slices.Contains(needs, n) {
				needs = append(needs, n)
			}
		}
	}
	facts := map[string]agent.Facts{}
	if len(errs) > 0 {
		// Refused whatever the nodes can do.
		return facts, fmt.Errorf("faults this cluster cannot do: %s", strings.Join(errs, "; "))
	}
	for _, name := range faults {
		spec, _ := Lookup(name)
		if spec.Precheck == nil {
			continue
		}
		for _, n := range control.NodeNames(c) {
			if err := spec.Precheck(ctx, c, n); err != nil {
				errs = append(errs, fmt.Sprintf("%s on node %s: %v", name, n, err))
			}
		}
	}
	if len(errs) > 0 {
		return facts, fmt.Errorf("faults this cluster cannot do: %s", strings.Join(errs, "; "))
	}
	if len(needs) == 0 {
		return facts, nil
	}
	var mu sync.Mutex
	err := forNodes(control.NodeNames(c), func(n string) error {
		f, err := agents.Probe(ctx, n)
		if err != nil {
			return err
		}
		mu.Lock()
		facts[n] = f
		mu.Unlock()
		return nil
	})
	if err != nil {
		return facts, fmt.Errorf("asking the nodes what they can do: %w", err)
	}
	for _, name := range faults {
		spec, _ := Lookup(name)
		for _, need := range spec.Needs {
			for _, n := range control.NodeNames(c) {
				if why := need.lacks(facts[n]); why != "" {
					errs = append(errs, fmt.Sprintf("%s needs %s, and node %s %s", name, need, n, why))
				}
			}
		}
	}
	if len(errs) > 0 {
		return facts, fmt.Errorf("faults this cluster cannot do: %s", strings.Join(errs, "; "))
	}
	return facts, nil
}
