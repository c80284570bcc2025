package txn

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"path/filepath"
	"slices"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

// TestOnlineGraphEdges: the graph built while a history is recorded has
// exactly the edges (pairs of transactions) of the graph the check builds
// at the end, with and without process and real-time order, on histories
// with aborted and crashed transactions, stale reads (anomalies of every
// kind, cycles included) and planted write skew: the graph is kept going
// through the anomalies here, where it would otherwise stop.
func TestOnlineGraphEdges(t *testing.T) {
	type named struct {
		name string
		h    histories.History
	}
	// The generated histories the other tests share (those of
	// list-append), and two more: one hot key, and many failures.
	var hs []named
	gen := generatedHistories()
	for _, name := range slices.Sorted(maps.Keys(gen)) {
		if inferWorkload(gen[name]) == "append" {
			hs = append(hs, named{name, gen[name]})
		}
	}
	for i, o := range []GenOptions{
		{Seed: 6, Txns: 2000, Procs: 40, Keys: 1, OpsPerTxn: 3, StaleReads: 0.2, InfoRate: 0.2},
		{Seed: 7, Txns: 2000, Procs: 5, Keys: 2, OpsPerTxn: 8, MaxWritesPerKey: 4, FailRate: 0.3},
	} {
		hs = append(hs, named{fmt.Sprintf("gen-%d", i), AppendHistoryWith(o)})
	}
	files, _ := filepath.Glob("../../testdata/txn/*.jsonl*")
	for _, f := range files {
		h, err := histories.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if inferWorkload(h) == "append" {
			hs = append(hs, named{f, h})
		}
	}
	compared, stopped := 0, map[string]bool{}
	for _, x := range hs {
		for _, mode := range [][2]bool{{false, false}, {true, false}, {true, true}} {
			s := NewStream(Options{Workload: "append"})
			s.g = newOnlineGraph(s.p, mode[0], mode[1], nil)
			s.g.keepGoing = true
			for i := range x.h {
				s.Add(x.h[:i+1], i)
			}
			s.drain(x.h, true)
			if s.failed {
				t.Fatalf("%s: the stream could not follow the history", x.name)
			}
			if s.g.off != "" {
				// Only what the graph cannot follow at all stops it here.
				if len(s.p.incompatKeys) == 0 && !slices.ContainsFunc(s.p.orders, func(o keyOrder) bool { return o.dupAt >= 0 }) {
					t.Fatalf("%s: the graph stopped: %s", x.name, s.g.off)
				}
				stopped[x.name] = true
				continue
			}
			got := onlinePairs(s.g)
			want := offlinePairs(t, x.h, mode[0], mode[1])
			if !slices.Equal(got, want) {
				t.Fatalf("%s %v: the online graph has %d edges, the offline one %d; first difference %s", x.name, mode, len(got), len(want), firstDiff(got, want))
			}
			if s.g.edges != len(want) {
				t.Fatalf("%s %v: the online graph counts %d edges, has %d", x.name, mode, s.g.edges, len(want))
			}
			compared++
		}
	}
	// Only the histories with incompatible reads or a duplicate element
	// (incompatible-order, duplicate-elements, append-odd) stop it.
	if compared < 3*(len(hs)-3) || len(stopped) > 3 {
		t.Errorf("only %d graphs of %d histories compared; the graph stopped on %v", compared, len(hs), slices.Sorted(maps.Keys(stopped)))
	}
	t.Logf("%d graphs of %d histories compared", compared, len(hs))
}

func onlinePairs(g *onlineGraph) [][2]int32 {
	var out [][2]int32
	for u := range g.out {
		for _, e := range g.out[u] {
			out = append(out, [2]int32{int32(u), e.to})
		}
	}
	slices.SortFunc(out, cmpPair)
	return out
}

func offlinePairs(t *testing.T, h histories.History, order, rt bool) [][2]int32 {
	t.Helper()
	p, err := parse(h, "append", nil)
	if err != nil {
		t.Fatal(err)
	}
	producers := []inEdges{appendEdges(p, buildAppendIndex(p))}
	if order || rt {
		producers = append(producers, orderEdges(p, rt))
	}
	g := buildGraph(len(p.txns), producers...)
	var out [][2]int32
	for u := range g.n {
		for i := g.off[u]; i < g.off[u+1]; i++ {
			out = append(out, [2]int32{int32(u), g.to[i]})
		}
	}
	slices.SortFunc(out, cmpPair)
	return out
}

func cmpPair(a, b [2]int32) int {
	if a[0] != b[0] {
		return int(a[0] - b[0])
	}
	return int(a[1] - b[1])
}

func firstDiff(got, want [][2]int32) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d: %v, want %v", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

// TestOnlineTopoOrder: the dynamic topological order keeps every edge
// between two components going forward, and the components are the
// strongly connected components as edges come (a cycle's transactions
// become one component), through random additions and removals of edges,
// checked against plain searches for paths; a removal may leave a
// component larger than the strongly connected components it holds, but
// never splits one.
func TestOnlineTopoOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	merged := 0
	for trial := range 300 {
		n := 2 + rng.Intn(30)
		g := &onlineGraph{}
		for range n {
			x := int32(len(g.ord))
			g.ord = append(g.ord, x)
			g.comp = append(g.comp, x)
			g.out = append(g.out, nil)
			g.in = append(g.in, nil)
			g.mark = append(g.mark, 0)
		}
		g.n = int32(n)
		// Shuffle the starting order, as if earlier edges had moved it.
		rng.Shuffle(n, func(i, j int) { g.ord[i], g.ord[j] = g.ord[j], g.ord[i] })
		adj := map[[2]int32]int{}
		removed := false
		for step := range 3 * n {
			u, v := int32(rng.Intn(n)), int32(rng.Intn(n))
			if u == v {
				continue
			}
			if k := [2]int32{u, v}; adj[k] > 0 && rng.Intn(4) == 0 {
				g.edge(u, v, relRW, -1)
				adj[k]--
				removed = true
			} else {
				g.edge(u, v, relRW, +1)
				adj[k]++
			}
			if g.off != "" {
				t.Fatalf("trial %d step %d: the graph stopped: %s", trial, step, g.off)
			}
			pairs := 0
			for k, c := range adj {
				if c == 0 {
					continue
				}
				pairs++
				if a, b := g.find(k[0]), g.find(k[1]); a != b && g.ord[a] >= g.ord[b] {
					t.Fatalf("trial %d step %d: edge %d→%d against the order (%d ≥ %d)", trial, step, k[0], k[1], g.ord[a], g.ord[b])
				}
			}
			if pairs != g.edges {
				t.Fatalf("trial %d step %d: %d edges counted, %d held", trial, step, g.edges, pairs)
			}
			reach := reachability(adj, n)
			for x := range int32(n) {
				for y := range int32(n) {
					scc := x == y || reach[x][y] && reach[y][x]
					same := g.find(x) == g.find(y)
					if scc && !same || same && !scc && !removed {
						t.Fatalf("trial %d step %d: %d and %d strongly connected: %v; one component: %v", trial, step, x, y, scc, same)
					}
				}
			}
		}
		if len(g.members) > 0 {
			merged++
		}
	}
	if merged < 100 {
		t.Errorf("only %d of 300 trials made a component of a cycle", merged)
	}
}

// reachability is whether there is a path from x to y in adj, for each.
func reachability(adj map[[2]int32]int, n int) [][]bool {
	next := make([][]int32, n)
	for k, c := range adj {
		if c > 0 {
			next[k[0]] = append(next[k[0]], k[1])
		}
	}
	reach := make([][]bool, n)
	for a := range n {
		reach[a] = make([]bool, n)
		stack := []int32{int32(a)}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, y := range next[x] {
				if !reach[a][y] {
					reach[a][y] = true
					stack = append(stack, y)
				}
			}
		}
	}
	return reach
}

// TestLazyCyclesSame: explaining only the cycles shown gives exactly the
// result of explaining every cycle found, on every transactional history
// of the test data and generated ones full of cycles, with MaxCases small
// enough that most cases found are not shown.
func TestLazyCyclesSame(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/txn/*.jsonl*")
	hs := map[string]histories.History{}
	for _, f := range files {
		h, err := histories.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		hs[f] = h
	}
	for name, h := range generatedHistories() {
		hs[name] = h
	}
	defer func() { lazyCycles = true }()
	cycles := 0
	for name, h := range hs {
		for _, o := range append(slices.Clone(sameOpts), Options{MaxCases: 1}, Options{MaxCases: 3, ConsistencyModel: "serializable"}) {
			var out [2]string
			for i, lazy := range []bool{false, true} {
				lazyCycles = lazy
				res, err := Check(h, o)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				j, _ := json.Marshal(res)
				out[i] = string(j)
				if d, ok := res.Details.(*Details); ok && lazy && d.SCCs > 0 {
					cycles++
				}
			}
			if out[0] != out[1] {
				t.Fatalf("%s %+v: explaining lazily gives\n%s\nwant\n%s", name, o, out[1], out[0])
			}
		}
	}
	if cycles < 20 {
		t.Errorf("only %d checks found cycles", cycles)
	}
	if n := lazyPosWrong.Load(); n > 0 {
		t.Errorf("%d cases were kept by a position that was not theirs", n)
	}
}

// TestOnlineSearchDirty: the components searched as the graph grows, and
// searched again when they change (an edge within one added or taken
// out, a merge), give at the end exactly what searching the final graph
// from scratch gives, component for component and cycle for cycle, on
// random graphs whose old nodes keep getting edges.
func TestOnlineSearchDirty(t *testing.T) {
	defer func(w int32) { searchWindow = w }(searchWindow)
	searchWindow = 3
	all := map[string]bool{}
	for i := range cycleSpecs {
		all[cycleSpecs[i].name] = true
	}
	sc := newCycleScope(all)
	rng := rand.New(rand.NewSource(2))
	rels := []uint8{relWW, relWR, relRW, relRW, relProc, relRT}
	reused, components := 0, 0
	for trial := range 200 {
		n := 10 + rng.Intn(50)
		g := &onlineGraph{scope: sc}
		adj := map[[3]int32]int{} // from, to, rel
		for x := range int32(n) {
			g.ord = append(g.ord, x)
			g.comp = append(g.comp, x)
			g.out = append(g.out, nil)
			g.in = append(g.in, nil)
			g.mark = append(g.mark, 0)
			g.n++
			for range 1 + rng.Intn(3) {
				// Mostly among the recent, sometimes back to the old.
				lo := max(0, x-5)
				if rng.Intn(5) == 0 {
					lo = 0
				}
				u, v := lo+rng.Int31n(x-lo+1), lo+rng.Int31n(x-lo+1)
				if u == v {
					continue
				}
				r := rels[rng.Intn(len(rels))]
				k := [3]int32{u, v, int32(r)}
				if adj[k] > 0 && rng.Intn(3) == 0 {
					g.edge(u, v, r, -1)
					adj[k]--
				} else {
					g.edge(u, v, r, +1)
					adj[k]++
				}
			}
			g.searchSettled()
			if g.off != "" {
				t.Fatalf("trial %d: the graph stopped: %s", trial, g.off)
			}
		}
		// What the graph kept and searches at the end.
		cg, comps, global, done := g.components()
		reused += len(done)
		got := map[string]string{}
		s := newSearcher(context.Background(), cg)
		for _, c := range comps {
			done = append(done, sc.search(nil, s, c, global))
		}
		for _, r := range done {
			got[fmt.Sprint(r.nodes)] = fmt.Sprint(r.found, r.unfinished, r.absent)
		}
		// The final graph, searched from scratch.
		fg := &graph{n: n, off: make([]int32, n+1)}
		for x := range int32(n) {
			type e struct {
				to  int32
				rel uint8
			}
			var out []e
			for k, c := range adj {
				if c > 0 && k[0] == x {
					if i := slices.IndexFunc(out, func(y e) bool { return y.to == k[1] }); i >= 0 {
						out[i].rel |= uint8(k[2])
					} else {
						out = append(out, e{k[1], uint8(k[2])})
					}
				}
			}
			slices.SortFunc(out, func(a, b e) int { return int(a.to - b.to) })
			for _, y := range out {
				fg.to = append(fg.to, y.to)
				fg.rel = append(fg.rel, y.rel)
			}
			fg.off[x+1] = int32(len(fg.to))
		}
		want := map[string]string{}
		fs := newSearcher(context.Background(), fg)
		for _, c := range sccsOf(fg) {
			r := sc.search(nil, fs, c, nil)
			want[fmt.Sprint(r.nodes)] = fmt.Sprint(r.found, r.unfinished, r.absent)
		}
		components += len(want)
		if !maps.Equal(got, want) {
			t.Fatalf("trial %d: searched as it grew\n%v\nwant\n%v", trial, got, want)
		}
	}
	if reused < 100 || components < 200 {
		t.Errorf("%d components, %d searched before the end", components, reused)
	}
	t.Logf("%d components, %d searched before the end", components, reused)
}
