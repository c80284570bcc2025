package nemesis

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func nodes5() []string { return []string{"n1", "n2", "n3", "n4", "n5"} }

// components returns the connected components of nodes under g.
func components(g Grudge, nodes []string) [][]string {
	seen := map[string]bool{}
	var out [][]string
	for _, n := range nodes {
		if seen[n] {
			continue
		}
		comp := []string{n}
		seen[n] = true
		for i := 0; i < len(comp); i++ {
			for _, m := range nodes {
				if !seen[m] && !g.Cut(comp[i], m) {
					seen[m] = true
					comp = append(comp, m)
				}
			}
		}
		slices.Sort(comp)
		out = append(out, comp)
	}
	return out
}

// sees returns the nodes a sees (itself included).
func sees(g Grudge, a string, nodes []string) []string {
	var out []string
	for _, b := range nodes {
		if a == b || !g.Cut(a, b) {
			out = append(out, b)
		}
	}
	return out
}

func TestGrudgeShapes(t *testing.T) {
	for _, n := range []int{4, 5, 6, 7} {
		var nodes []string
		for i := 1; i <= n; i++ {
			nodes = append(nodes, "n"+string(rune('0'+i)))
		}
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, 1))
			check := func(kind GrudgeKind, ok func(g Grudge) string) {
				g, err := MakeGrudge(kind, nodes, rng, []string{nodes[0]}, nil)
				if err != nil {
					t.Fatalf("%d nodes, %s: %v", n, kind, err)
				}
				if why := ok(g); why != "" {
					t.Errorf("%d nodes, seed %d, %s: %s: %v (components %v)", n, seed, kind, why, g, components(g, nodes))
				}
			}
			sizes := func(g Grudge) []int {
				var s []int
				for _, c := range components(g, nodes) {
					s = append(s, len(c))
				}
				slices.Sort(s)
				return s
			}
			check(GrudgeOne, func(g Grudge) string {
				if s := sizes(g); !slices.Equal(s, []int{1, n - 1}) {
					return "want components of 1 and n-1"
				}
				return ""
			})
			for _, k := range []GrudgeKind{GrudgeHalves, GrudgeRandomHalves} {
				check(k, func(g Grudge) string {
					if s := sizes(g); !slices.Equal(s, []int{n / 2, n - n/2}) {
						return "want two halves"
					}
					return ""
				})
			}
			check(GrudgeMajority, func(g Grudge) string {
				if s := sizes(g); !slices.Equal(s, []int{n - (n/2 + 1), n/2 + 1}) {
					return "want a majority and the rest"
				}
				return ""
			})
			check(GrudgeMinority, func(g Grudge) string {
				k := max(1, (n-1)/2)
				want := []int{}
				for range k {
					want = append(want, 1)
				}
				want = append(want, n-k)
				if s := sizes(g); !slices.Equal(s, want) {
					return "want each minority node alone"
				}
				return ""
			})
			check(GrudgePrimaries, func(g Grudge) string {
				if s := sizes(g); !slices.Equal(s, []int{1, n - 1}) || len(sees(g, nodes[0], nodes)) != 1 {
					return "want the primary alone"
				}
				return ""
			})
			check(GrudgeMajoritiesRing, func(g Grudge) string {
				views := map[string]bool{}
				for _, a := range nodes {
					v := sees(g, a, nodes)
					if len(v) < n/2+1 {
						return a + " sees no majority"
					}
					views[strings.Join(v, ",")] = true
				}
				if len(views) != n {
					return "two nodes see the same majority"
				}
				return ""
			})
			check(GrudgeBridge, func(g Grudge) string {
				if s := sizes(g); !slices.Equal(s, []int{n}) {
					return "the bridge should connect everything"
				}
				bridges := 0
				for _, a := range nodes {
					if len(sees(g, a, nodes)) == n {
						bridges++
					}
				}
				if bridges != 1 {
					return "want exactly one node that sees all"
				}
				return ""
			})
		}
	}
}

func TestGrudgeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		kind     GrudgeKind
		nodes    []string
		explicit Grudge
		want     string
	}{
		{GrudgeMajoritiesRing, []string{"n1", "n2", "n3"}, nil, "at least 4 nodes"},
		{GrudgeBridge, []string{"n1", "n2"}, nil, "at least 3 nodes"},
		{GrudgeOne, []string{"n1"}, nil, "at least 2 nodes"},
		{GrudgeExplicit, nodes5(), Grudge{"n1": {"n9"}}, `node "n9"`},
		{GrudgeExplicit, nodes5(), Grudge{"n1": {"n1"}}, "against itself"},
		{GrudgePrimaries, nodes5(), nil, "no primary"},
		{"meteor", nodes5(), nil, "unknown grudge"},
	} {
		_, err := MakeGrudge(c.kind, c.nodes, rng, nil, c.explicit)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("MakeGrudge(%s, %v, %v) = %v, want an error with %q", c.kind, c.nodes, c.explicit, err, c.want)
		}
	}
}

func TestParseGrudge(t *testing.T) {
	g, err := ParseGrudge("n1:n2,n3; n4:n5")
	if err != nil {
		t.Fatal(err)
	}
	if got := g.String(); got != "n1:n2,n3 n4:n5" {
		t.Errorf("ParseGrudge = %s", got)
	}
	for _, bad := range []string{"", "n1", ":n2"} {
		if _, err := ParseGrudge(bad); err == nil {
			t.Errorf("ParseGrudge(%q) succeeded", bad)
		}
	}
	if v := (Grudge{"n1": {"n2"}}).Value().(map[string]any); len(v["n1"].([]any)) != 1 {
		t.Errorf("Value = %v", v)
	}
}

func TestSelector(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	db := &fakeDB{primaries: []string{"n3"}}
	for _, c := range []struct {
		sel  string
		want int
	}{{"one", 1}, {"minority", 2}, {"majority", 3}, {"all", 5}, {"primaries", 1}, {"n4,n2", 2}} {
		s, err := ParseSelector(c.sel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Resolve(ctx, nodes5(), db, rng)
		if err != nil || len(got) != c.want {
			t.Errorf("%s: Resolve = %v, %v; want %d nodes", c.sel, got, err, c.want)
		}
		if !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(a, b) }) {
			t.Errorf("%s: %v not in node order", c.sel, got)
		}
	}
	if _, err := SelectNamed("n9").Resolve(ctx, nodes5(), nil, rng); err == nil {
		t.Error("an unknown node resolved")
	}
	if _, err := Select(SelectPrimaries).Resolve(ctx, nodes5(), nil, rng); err == nil {
		t.Error("primaries resolved without a target")
	}
}

// A random partition isolates the primaries too when the target can tell
// them, falls back to one node when none leads at that moment, and never
// draws primaries for a target that cannot tell them.
func TestRandomPartitionDrawsPrimaries(t *testing.T) {
	ctx := context.Background()
	draw := func(db any) map[GrudgeKind]int {
		env := &Env{Cluster: newFakeCluster("n1", "n2", "n3", "n4", "n5"), Logf: t.Logf}
		if db != nil {
			env.DB = db.(*fakeDB)
		}
		p := newPartition(env)
		rng := rand.New(rand.NewPCG(1, 2))
		kinds := map[GrudgeKind]int{}
		for range 400 {
			act, err := p.Plan(ctx, PartitionArgs{}, rng)
			if err != nil {
				t.Fatal(err)
			}
			a := act.(*partitionAction)
			kinds[a.Kind]++
			if a.Kind == GrudgePrimaries && (len(a.Grudge["n2"]) != 4 || len(a.Grudge["n1"]) != 1) {
				t.Fatalf("primaries grudge %v does not isolate n2", a.Grudge)
			}
		}
		return kinds
	}
	withLeader := draw(&fakeDB{primaries: []string{"n2"}})
	if withLeader[GrudgePrimaries] == 0 {
		t.Errorf("400 random partitions never isolated the primary: %v", withLeader)
	}
	for _, k := range GrudgeKinds {
		if withLeader[k] == 0 {
			t.Errorf("400 random partitions never drew %s: %v", k, withLeader)
		}
	}
	// Without a leader, primaries' eighth of the draws becomes one node:
	// about a quarter of 400 are one, not an eighth.
	if leaderless := draw(&fakeDB{}); leaderless[GrudgePrimaries] != 0 || leaderless[GrudgeOne] < 75 {
		t.Errorf("with no leader, primaries should fall back to one node: %v", leaderless)
	}
	if none := draw(nil); none[GrudgePrimaries] != 0 {
		t.Errorf("a target without primaries drew them: %v", none)
	}
}
