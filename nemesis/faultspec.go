package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// FaultSpec is one entry of a schedule's fault list, as plans and
// --nemesis write it: a fault's name, optionally followed by parameters
// separated by colons, each a bare word (the fault's main choice: a grudge
// kind for partition, which nodes for kill, pause and unplug, a mode or
// which nodes for clock) or KEY=VALUE:
//
//	partition                 a random grudge each time
//	partition:halves          always halves
//	partition:isolate:nodes=n1+n2
//	kill:one   kill:majority   kill:nodes=n2
//	pause:primaries
//	clock:strobe:offset=5s:period=100ms
//	packet:loss=0.2   packet:delay=50ms:jitter=10ms:nodes=all   packet:rate=64KiB
//
// Node lists are joined with '+', since commas separate the faults of a
// list. What a spec leaves open is drawn at random, from the schedule's
// seed, each time the fault is injected.
type FaultSpec struct {
	// Name is the fault's registry name.
	Name string
	// Params are the parameters as written, in order.
	Params []string

	apply func(Args) (Args, error)
}

// String is the spec as written (name:param:…).
func (f FaultSpec) String() string {
	return strings.Join(append([]string{f.Name}, f.Params...), ":")
}

// Args draws the arguments for one injection: what the spec leaves open
// from rng, the rest as the spec says.
func (f FaultSpec) Args(rng *rand.Rand) Args {
	spec, _ := Lookup(f.Name)
	a := spec.Random(rng)
	if f.apply != nil {
		// ParseFaultSpec applied the parameters once already: they
		// cannot fail now.
		a, _ = f.apply(a)
	}
	return a
}

// NamedNodes are the node names the spec names (nodes=…), to check
// against the plan and the cluster before a run starts.
func (f FaultSpec) NamedNodes() []string {
	if s, ok := argsNodes(f.Args(newRNG(0))); ok && s.Kind == SelectNodes {
		return s.Nodes
	}
	return nil
}

// argsNodes is the selector of the nodes a acts on, if a has one.
func argsNodes(a Args) (Selector, bool) {
	switch a := a.(type) {
	case KillArgs:
		return a.Nodes, true
	case PauseArgs:
		return a.Nodes, true
	case ClockArgs:
		return a.Nodes, true
	case PacketArgs:
		return a.Nodes, true
	case UnplugArgs:
		return a.Nodes, true
	case PartitionArgs:
		return a.Nodes, true
	}
	return Selector{}, false
}

// withNodes is a with its nodes' selector set to s.
func withNodes(a Args, s Selector) Args {
	switch a := a.(type) {
	case KillArgs:
		a.Nodes = s
		return a
	case PauseArgs:
		a.Nodes = s
		return a
	case ClockArgs:
		a.Nodes = s
		return a
	case PacketArgs:
		a.Nodes = s
		return a
	case UnplugArgs:
		a.Nodes = s
		return a
	case PartitionArgs:
		a.Nodes = s
		if a.Grudge == "" {
			a.Grudge = GrudgeIsolate
		}
		return a
	}
	return a
}

// SpecName is the fault's name in a fault list entry ("kill" of
// "kill:one"), without parsing its parameters.
func SpecName(s string) string {
	name, _, _ := strings.Cut(s, ":")
	return strings.TrimSpace(name)
}

// ParseFaultSpec parses one entry of a fault list (see FaultSpec); its
// errors name the entry and the parameter.
func ParseFaultSpec(s string) (FaultSpec, error) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, ":")
	name := SpecName(s)
	spec, err := Lookup(name)
	if err != nil {
		return FaultSpec{}, err
	}
	fs := FaultSpec{Name: name}
	type kv struct{ key, val, raw string }
	var params []kv
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		if p == "" {
			return FaultSpec{}, fmt.Errorf("fault %q: empty parameter (want %s)", s, paramHelp[name])
		}
		fs.Params = append(fs.Params, p)
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			k, v = "", p
		}
		params = append(params, kv{strings.TrimSpace(k), strings.TrimSpace(v), p})
	}
	if len(params) == 0 {
		return fs, nil
	}
	fs.apply = func(a Args) (Args, error) {
		for _, p := range params {
			var err error
			if a, err = applyParam(a, p.key, p.val); err != nil {
				return a, fmt.Errorf("fault %q, parameter %q: %w (want %s)", s, p.raw, err, paramHelp[name])
			}
		}
		return a, nil
	}
	// Apply once to a drawn value, so that every error shows now, not in
	// the middle of a run.
	if _, err := fs.apply(spec.Random(newRNG(0))); err != nil {
		return FaultSpec{}, err
	}
	return fs, nil
}

// ParseFaultSpecs parses a fault list.
func ParseFaultSpecs(list []string) ([]FaultSpec, error) {
	out := make([]FaultSpec, 0, len(list))
	for _, s := range list {
		f, err := ParseFaultSpec(s)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// paramHelp says, per fault, which parameters it takes.
var paramHelp = map[string]string{
	"partition": "a grudge kind (one, halves, random-halves, majority, minority, majorities-ring, bridge, primaries, isolate), grudge=KIND, or nodes=N1+N2 for isolate",
	"kill":      "which nodes: one, minority, majority, primaries, all, or nodes=N1+N2",
	"pause":     "which nodes: one, minority, majority, primaries, all, or nodes=N1+N2",
	"unplug":    "which nodes: one, minority, majority, primaries, all, or nodes=N1+N2",
	"clock":     "bump, strobe, mode=bump|strobe, offset=DURATION, period=DURATION, or which nodes (one, minority, majority, primaries, all, nodes=N1+N2)",
	"packet":    "loss=P (a probability between 0 and 1), rate=BYTES (per second, e.g. 64KiB), delay=DURATION, jitter=DURATION, method=netem|nfqueue, or which nodes (one, minority, majority, primaries, all, nodes=N1+N2)",
}

// ParamHelp says which parameters fault name takes.
func ParamHelp(name string) string { return paramHelp[name] }

// parseNodes reads a bare selector word, or with key nodes, a '+'-joined
// list of node names (or a selector word).
func parseNodes(key, val string) (Selector, error) {
	switch k := SelectKind(val); k {
	case SelectOne, SelectMinority, SelectMajority, SelectPrimaries, SelectAll:
		return Select(k), nil
	}
	if key == "" {
		return Selector{}, fmt.Errorf("unknown word %q", val)
	}
	var nodes []string
	for n := range strings.SplitSeq(val, "+") {
		if n = strings.TrimSpace(n); n == "" {
			return Selector{}, fmt.Errorf("empty node name")
		}
		nodes = append(nodes, n)
	}
	return SelectNamed(nodes...), nil
}

func parseDuration(val string) (time.Duration, error) {
	d, err := time.ParseDuration(val)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration with a unit, like 50ms or 2s", val)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%v must be positive", d)
	}
	return d, nil
}

// applyParam sets one parameter on a: key is "" for a bare word.
func applyParam(a Args, key, val string) (Args, error) {
	// A fault's main word first: a grudge kind, a clock mode.
	switch x := a.(type) {
	case PartitionArgs:
		if key == "" || key == "grudge" {
			k, err := ParseGrudgeKind(val)
			if err != nil {
				return a, err
			}
			if k == GrudgeExplicit {
				return a, fmt.Errorf("an explicit grudge is given with `faultline nemesis partition --grudge`, not in a schedule")
			}
			x.Grudge = k
			return x, nil
		}
	case ClockArgs:
		if (key == "" || key == "mode") && (val == string(ClockBump) || val == string(ClockStrobe)) {
			x.Mode = ClockMode(val)
			return x, nil
		}
		if key == "mode" {
			return a, fmt.Errorf("mode %q: want bump or strobe", val)
		}
	}
	// Which nodes.
	if key == "" || key == "nodes" {
		s, err := parseNodes(key, val)
		if err != nil {
			return a, err
		}
		return withNodes(a, s), nil
	}
	// Numbers and durations.
	var d time.Duration
	if slices.Contains([]string{"offset", "period", "delay", "jitter"}, key) {
		var err error
		if d, err = parseDuration(val); err != nil {
			return a, err
		}
	}
	switch x := a.(type) {
	case ClockArgs:
		switch key {
		case "offset":
			x.Offset = d
			return x, nil
		case "period":
			x.Period = d
			return x, nil
		}
	case PacketArgs:
		switch key {
		case "loss":
			p, err := strconv.ParseFloat(val, 64)
			if err != nil || p <= 0 || p >= 1 {
				return a, fmt.Errorf("%q is not a probability in (0, 1)", val)
			}
			x.Loss = p
			return x, nil
		case "rate":
			b, err := humanize.ParseBytes(val)
			if err != nil || b == 0 {
				return a, fmt.Errorf("%q is not a positive number of bytes per second, like 64KiB", val)
			}
			x.Rate = int64(b)
			return x, nil
		case "method":
			if val != DelayNetem && val != DelayNfqueue {
				return a, fmt.Errorf("method %q: want netem or nfqueue", val)
			}
			x.DelayMethod = val
			return x, nil
		case "delay":
			x.Delay = d
			return x, nil
		case "jitter":
			x.Jitter = d
			return x, nil
		}
	}
	return a, fmt.Errorf("unknown parameter %q", key)
}

// specsByFault groups specs by fault name, in order of first appearance.
func specsByFault(specs []FaultSpec) (names []string, by map[string][]FaultSpec) {
	by = map[string][]FaultSpec{}
	for _, s := range specs {
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
		by[s.Name] = append(by[s.Name], s)
	}
	return names, by
}

// Completions are the forms of a fault spec a shell offers after
// "name:": its kinds and an example of each parameter.
func Completions(name string) []string {
	var words []string
	sel := []string{"one", "minority", "majority", "primaries", "all", "nodes="}
	switch name {
	case "partition":
		for _, k := range GrudgeKinds {
			words = append(words, string(k))
		}
		words = append(words, "primaries", "isolate:nodes=")
	case "kill", "pause", "unplug":
		words = sel
	case "clock":
		words = append([]string{"bump", "strobe", "offset=", "period="}, sel...)
	case "packet":
		words = append([]string{"loss=0.2", "delay=50ms", "jitter=10ms", "rate=64KiB", "method=netem", "method=nfqueue"}, sel...)
	}
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = name + ":" + w
	}
	return out
}
