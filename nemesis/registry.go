package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Spec is a fault in the registry.
type Spec struct {
	// Name is what plans, schedules and `faultline nemesis` call it.
	Name string
	// Doc is one line for `faultline list`.
	Doc string
	// New makes the fault on env.
	New func(env *Env) Fault
	// Random draws arguments for a schedule.
	Random func(rng *rand.Rand) Args

	_ struct{}
}

// registry holds every fault, one line each.
var registry = []Spec{
	{Name: "partition", Doc: "cut the network with a grudge (one, halves, random-halves, majority, minority, majorities-ring, bridge, primaries, isolate, or explicit) using iptables in each node", New: newPartition,
		Random: func(*rand.Rand) Args { return PartitionArgs{} }},
	{Name: "kill", Doc: "SIGKILL the target on some nodes (one, minority, majority, primaries, all, or named), restart it on the same data to recover", New: newKill,
		Random: func(rng *rand.Rand) Args { return KillArgs{Nodes: randomSelector(rng)} }},
	{Name: "pause", Doc: "SIGSTOP the target on some nodes, SIGCONT to recover", New: newPause,
		Random: func(rng *rand.Rand) Args { return PauseArgs{Nodes: randomSelector(rng)} }},
	{Name: "clock", Doc: "skew the clocks of every process on some nodes: bump (ms to minutes) or strobe, reset to recover; records check-offsets", New: newClock,
		Random: func(rng *rand.Rand) Args { return ClockArgs{Nodes: randomSelector(rng)} }},
	{Name: "packet", Doc: "lose (iptables statistic), rate-limit (hashlimit) or delay ± jitter (netem, else an NFQUEUE delayer) packets between nodes", New: newPacket,
		Random: func(rng *rand.Rand) Args { return PacketArgs{Nodes: randomSelector(rng)} }},
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
