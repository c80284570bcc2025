package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// A Grudge says, for each node, the nodes it cannot hear from (Jepsen's
// word). A partition applies it by dropping, on each node, packets from and
// to every node of its set, so a link is cut when either end holds a grudge
// against the other. Nodes with an empty set may be left out.
type Grudge map[string][]string

// GrudgeKind names a way to build a grudge.
type GrudgeKind string

// The grudges a partition knows. Random choices come from the seeded random
// source the caller passes.
const (
	// GrudgeOne isolates one random node from all the others.
	GrudgeOne GrudgeKind = "one"
	// GrudgeHalves cuts the cluster in two in node order: the first ⌊n/2⌋
	// nodes and the rest.
	GrudgeHalves GrudgeKind = "halves"
	// GrudgeRandomHalves cuts a shuffle of the nodes in two: ⌊n/2⌋ and the
	// rest.
	GrudgeRandomHalves GrudgeKind = "random-halves"
	// GrudgeMajority cuts a random majority (⌊n/2⌋+1 nodes) off from the
	// rest, which stay together. With an even number of nodes, unlike
	// random-halves, one side keeps a quorum.
	GrudgeMajority GrudgeKind = "majority"
	// GrudgeMinority isolates each node of a random minority (⌊(n-1)/2⌋
	// nodes, at least one) from every other node; the majority stays
	// together.
	GrudgeMinority GrudgeKind = "minority"
	// GrudgeMajoritiesRing lays the nodes on a random ring and lets each see
	// only its nearest neighbours: every node sees a majority, and no two
	// see the same one. It needs at least 4 nodes.
	GrudgeMajoritiesRing GrudgeKind = "majorities-ring"
	// GrudgeBridge cuts a shuffle of the nodes into two halves joined by one
	// node that sees both. It needs at least 3 nodes.
	GrudgeBridge GrudgeKind = "bridge"
	// GrudgePrimaries isolates each node that believes it leads (the
	// target's Primaries) from every other node.
	GrudgePrimaries GrudgeKind = "primaries"
	// GrudgeIsolate cuts the nodes PartitionArgs.Nodes selects off from
	// the rest, as one group.
	GrudgeIsolate GrudgeKind = "isolate"
	// GrudgeExplicit is a grudge given in full (PartitionArgs.Explicit).
	GrudgeExplicit GrudgeKind = "explicit"
)

// GrudgeKinds lists the kinds a schedule draws from whatever the target
// (explicit needs a grudge given in full, isolate a selection; primaries
// is drawn too when the target can tell them: see PartitionArgs).
var GrudgeKinds = []GrudgeKind{GrudgeOne, GrudgeHalves, GrudgeRandomHalves, GrudgeMajority, GrudgeMinority, GrudgeMajoritiesRing, GrudgeBridge}

// ParseGrudgeKind parses one of the kinds above.
func ParseGrudgeKind(s string) (GrudgeKind, error) {
	k := GrudgeKind(s)
	if slices.Contains(GrudgeKinds, k) || k == GrudgePrimaries || k == GrudgeIsolate || k == GrudgeExplicit {
		return k, nil
	}
	var names []string
	for _, k := range GrudgeKinds {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("grudge %q: want one of %s, primaries, isolate, or an explicit grudge like n1:n2,n3;n2:n1", s, strings.Join(names, ", "))
}

// ParseGrudge parses an explicit grudge: "n1:n2,n3;n4:n5" means n1 cannot
// hear from n2 and n3, and n4 cannot hear from n5.
func ParseGrudge(s string) (Grudge, error) {
	g := Grudge{}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		node, peers, ok := strings.Cut(part, ":")
		node = strings.TrimSpace(node)
		if !ok || node == "" {
			return nil, fmt.Errorf("grudge %q: %q: want NODE:PEER,PEER", s, part)
		}
		for p := range strings.SplitSeq(peers, ",") {
			if p = strings.TrimSpace(p); p != "" {
				g[node] = append(g[node], p)
			}
		}
	}
	if len(g) == 0 {
		return nil, fmt.Errorf("grudge %q: empty", s)
	}
	return g, nil
}

// Complete is the grudge of a partition into components: every node
// cannot hear from any node outside its own component. Nodes in no
// component hear everyone.
func Complete(components ...[]string) Grudge {
	g := Grudge{}
	for i, c := range components {
		for _, n := range c {
			for j, o := range components {
				if i != j {
					g[n] = append(g[n], o...)
				}
			}
		}
	}
	return g.normal(nil)
}

// Validate checks that every node the grudge names is one of nodes and
// that no node holds a grudge against itself.
func (g Grudge) Validate(nodes []string) error {
	for n, peers := range g {
		if !slices.Contains(nodes, n) {
			return fmt.Errorf("grudge names node %q, which the cluster does not have (nodes: %s)", n, strings.Join(nodes, ", "))
		}
		for _, p := range peers {
			if p == n {
				return fmt.Errorf("grudge: node %q cannot hold a grudge against itself", n)
			}
			if !slices.Contains(nodes, p) {
				return fmt.Errorf("grudge of %s names node %q, which the cluster does not have (nodes: %s)", n, p, strings.Join(nodes, ", "))
			}
		}
	}
	return nil
}

// Cut reports whether the grudge cuts the link between a and b (in both
// directions, as a partition applies it).
func (g Grudge) Cut(a, b string) bool {
	return slices.Contains(g[a], b) || slices.Contains(g[b], a)
}

// normal sorts every set in node order (nodes' order if given, else by
// name), removes duplicates and drops empty sets.
func (g Grudge) normal(nodes []string) Grudge {
	less := func(a, b string) int { return strings.Compare(a, b) }
	if nodes != nil {
		less = func(a, b string) int { return slices.Index(nodes, a) - slices.Index(nodes, b) }
	}
	out := Grudge{}
	for n, peers := range g {
		ps := slices.Clone(peers)
		slices.SortFunc(ps, less)
		ps = slices.Compact(ps)
		if len(ps) > 0 {
			out[n] = ps
		}
	}
	return out
}

// Value is the grudge as a history value: {"n1": ["n2", "n3"], …}.
func (g Grudge) Value() any {
	m := make(map[string]any, len(g))
	for n, peers := range g {
		ps := make([]any, len(peers))
		for i, p := range peers {
			ps[i] = p
		}
		m[n] = ps
	}
	return m
}

func (g Grudge) String() string {
	keys := make([]string, 0, len(g))
	for n := range g {
		keys = append(keys, n)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, n := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%s", n, strings.Join(g[n], ","))
	}
	return b.String()
}

func shuffled(nodes []string, rng *rand.Rand) []string {
	s := slices.Clone(nodes)
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

// MakeGrudge builds a grudge of kind over nodes (in the cluster's order).
// picked is used by GrudgePrimaries (the primaries) and GrudgeIsolate (the
// selected nodes) only; explicit by GrudgeExplicit.
func MakeGrudge(kind GrudgeKind, nodes []string, rng *rand.Rand, picked []string, explicit Grudge) (Grudge, error) {
	n := len(nodes)
	if n < 2 && kind != GrudgeExplicit {
		return nil, fmt.Errorf("grudge %s needs at least 2 nodes, the cluster has %d", kind, n)
	}
	var g Grudge
	switch kind {
	case GrudgeOne:
		i := rng.IntN(n)
		rest := slices.Delete(slices.Clone(nodes), i, i+1)
		g = Complete([]string{nodes[i]}, rest)
	case GrudgeHalves:
		g = Complete(nodes[:n/2], nodes[n/2:])
	case GrudgeRandomHalves:
		s := shuffled(nodes, rng)
		g = Complete(s[:n/2], s[n/2:])
	case GrudgeMajority:
		s := shuffled(nodes, rng)
		m := n/2 + 1
		g = Complete(s[:m], s[m:])
	case GrudgeMinority:
		s := shuffled(nodes, rng)
		k := max(1, (n-1)/2)
		comps := [][]string{s[k:]}
		for _, x := range s[:k] {
			comps = append(comps, []string{x})
		}
		g = Complete(comps...)
	case GrudgeMajoritiesRing:
		if n < 4 {
			return nil, fmt.Errorf("grudge %s needs at least 4 nodes (with fewer, every node seeing a different majority needs one-way links), the cluster has %d", kind, n)
		}
		g = majoritiesRing(shuffled(nodes, rng))
	case GrudgeBridge:
		if n < 3 {
			return nil, fmt.Errorf("grudge %s needs at least 3 nodes, the cluster has %d", kind, n)
		}
		s := shuffled(nodes, rng)
		bridge, rest := s[0], s[1:]
		half := len(rest) / 2
		g = Complete(rest[:half], rest[half:])
		delete(g, bridge)
	case GrudgeIsolate:
		var rest []string
		for _, x := range nodes {
			if !slices.Contains(picked, x) {
				rest = append(rest, x)
			}
		}
		if len(picked) == 0 || len(rest) == 0 {
			return nil, fmt.Errorf("grudge %s: select some nodes, not all", kind)
		}
		g = Complete(picked, rest)
	case GrudgePrimaries:
		if len(picked) == 0 {
			return nil, fmt.Errorf("grudge %s: the target names no primary", kind)
		}
		var comps [][]string
		var rest []string
		for _, x := range nodes {
			if slices.Contains(picked, x) {
				comps = append(comps, []string{x})
			} else {
				rest = append(rest, x)
			}
		}
		g = Complete(append(comps, rest)...)
	case GrudgeExplicit:
		if len(explicit) == 0 {
			return nil, fmt.Errorf("grudge %s: no grudge given", kind)
		}
		g = explicit
	default:
		return nil, fmt.Errorf("unknown grudge %q", kind)
	}
	if err := g.Validate(nodes); err != nil {
		return nil, err
	}
	return g.normal(nodes), nil
}

// majoritiesRing: on the ring, each node sees the k nearest nodes on either
// side, k = ⌈(m-1)/2⌉ for a majority m, and holds a grudge against the rest.
// It sees 2k+1 ≥ m nodes counting itself, and since 2k+1 < n its window is
// its own. Distance on a ring is symmetric, so is the grudge.
func majoritiesRing(ring []string) Grudge {
	n := len(ring)
	m := n/2 + 1
	k := m / 2 // ⌈(m-1)/2⌉
	g := Grudge{}
	for i, x := range ring {
		for j, y := range ring {
			d := (j - i + n) % n
			d = min(d, n-d)
			if d > k {
				g[x] = append(g[x], y)
			}
		}
	}
	return g
}
