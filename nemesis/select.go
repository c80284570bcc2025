package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/faultline-dev/faultline/targets"
)

// SelectKind says how a Selector picks nodes.
type SelectKind string

// The ways to pick the nodes a fault acts on.
const (
	SelectOne       SelectKind = "one"       // one random node
	SelectMinority  SelectKind = "minority"  // ⌊(n-1)/2⌋ random nodes, at least one
	SelectMajority  SelectKind = "majority"  // ⌊n/2⌋+1 random nodes
	SelectPrimaries SelectKind = "primaries" // the nodes that believe they lead (targets.Primaries)
	SelectAll       SelectKind = "all"       // every node
	SelectNodes     SelectKind = "nodes"     // the nodes named in Selector.Nodes
)

// SelectKinds lists the kinds a schedule draws from.
var SelectKinds = []SelectKind{SelectOne, SelectMinority, SelectMajority, SelectAll}

// Selector picks the nodes a fault acts on; random picks are resolved
// with the caller's seeded random source. The zero value picks one node.
type Selector struct {
	Kind  SelectKind
	Nodes []string // for SelectNodes

	_ struct{}
}

// Select returns a selector of kind (not SelectNodes).
func Select(kind SelectKind) Selector { return Selector{Kind: kind} }

// SelectNamed returns the selector of the named nodes.
func SelectNamed(nodes ...string) Selector { return Selector{Kind: SelectNodes, Nodes: nodes} }

// ParseSelector parses one, minority, majority, primaries, all, or a
// comma-separated list of node names.
func ParseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	switch k := SelectKind(s); k {
	case SelectOne, SelectMinority, SelectMajority, SelectPrimaries, SelectAll:
		return Select(k), nil
	case "":
		return Selector{}, fmt.Errorf("node selector is empty: want one, minority, majority, primaries, all, or node names like n1,n2")
	}
	var nodes []string
	for n := range strings.SplitSeq(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			nodes = append(nodes, n)
		}
	}
	return SelectNamed(nodes...), nil
}

func (s Selector) kind() SelectKind {
	if s.Kind == "" {
		return SelectOne
	}
	return s.Kind
}

func (s Selector) String() string {
	if s.kind() == SelectNodes {
		return strings.Join(s.Nodes, ",")
	}
	return string(s.kind())
}

// Resolve picks nodes from the cluster's nodes (returned in the cluster's
// order). db is asked for primaries; it may be nil for other kinds.
func (s Selector) Resolve(ctx context.Context, nodes []string, db targets.DB, rng *rand.Rand) ([]string, error) {
	n := len(nodes)
	if n == 0 {
		return nil, fmt.Errorf("select %s: the cluster has no nodes", s)
	}
	var picked []string
	switch s.kind() {
	case SelectOne:
		picked = shuffled(nodes, rng)[:1]
	case SelectMinority:
		picked = shuffled(nodes, rng)[:max(1, (n-1)/2)]
	case SelectMajority:
		picked = shuffled(nodes, rng)[:n/2+1]
	case SelectAll:
		picked = slices.Clone(nodes)
	case SelectPrimaries:
		ps, err := primaries(ctx, db)
		if err != nil {
			return nil, err
		}
		picked = ps
	case SelectNodes:
		if len(s.Nodes) == 0 {
			return nil, fmt.Errorf("select: no node named")
		}
		for _, x := range s.Nodes {
			if !slices.Contains(nodes, x) {
				return nil, fmt.Errorf("select: no node %q in the cluster (nodes: %s)", x, strings.Join(nodes, ", "))
			}
		}
		picked = slices.Clone(s.Nodes)
	default:
		return nil, fmt.Errorf("select: unknown kind %q", s.Kind)
	}
	slices.SortFunc(picked, func(a, b string) int { return slices.Index(nodes, a) - slices.Index(nodes, b) })
	return slices.Compact(picked), nil
}

func primaries(ctx context.Context, db targets.DB) ([]string, error) {
	p, ok := db.(targets.Primaries)
	if !ok || db == nil {
		return nil, fmt.Errorf("select primaries: the target cannot tell its primaries")
	}
	ps, err := p.Primaries(ctx)
	if err != nil {
		return nil, fmt.Errorf("select primaries: %w", err)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("select primaries: no node believes it leads")
	}
	return ps, nil
}
