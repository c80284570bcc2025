package txn

import (
	"context"
	"math/rand/v2"
	"testing"
)

// bruteClasses lists the cycle classes present among the simple cycles of a
// small graph, trying every reading of every multi-kind edge.
func bruteClasses(g *graph) map[string]bool {
	found := map[string]bool{}
	n := int32(g.n)
	var path []int32
	var rels []uint8
	onPath := make([]bool, n)
	var readings func(i int, c []step)
	readings = func(i int, c []step) {
		if i == len(c) {
			if name := classify(c); name != "" {
				found[name] = true
			}
			return
		}
		for b := uint8(1); b <= relRT; b <<= 1 {
			if rels[i]&b != 0 {
				c[i].rel = b
				readings(i+1, c)
			}
		}
	}
	var dfs func(start, v int32)
	dfs = func(start, v int32) {
		for i := g.off[v]; i < g.off[v+1]; i++ {
			w := g.to[i]
			if w == start {
				c := make([]step, len(path))
				for j := range path {
					to := start
					if j+1 < len(path) {
						to = path[j+1]
					}
					c[j] = step{from: path[j], to: to}
				}
				rels = append(rels, g.rel[i])
				readings(0, c)
				rels = rels[:len(rels)-1]
				continue
			}
			// Each cycle once: from its smallest node.
			if w < start || onPath[w] {
				continue
			}
			onPath[w] = true
			path = append(path, w)
			rels = append(rels, g.rel[i])
			dfs(start, w)
			path = path[:len(path)-1]
			rels = rels[:len(rels)-1]
			onPath[w] = false
		}
	}
	for s := range n {
		path = append(path[:0], s)
		rels = rels[:0]
		onPath[s] = true
		dfs(s, s)
		onPath[s] = false
	}
	return found
}

// The search finds a cycle of a class in a component exactly when one
// exists (checked by brute force on small random graphs), and every cycle
// it reports is simple and of the class it was looking for.
func TestCycleSearchMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []uint8{relWW, relWR, relRW, relProc, relRT}
	misses := 0
	for iter := range 2000 {
		n := 2 + rng.IntN(6)
		var edges []edge
		for a := range n {
			for b := range n {
				if a != b && rng.IntN(100) < 35 {
					var rel uint8
					for _, k := range kinds {
						if rng.IntN(100) < 30 {
							rel |= k
						}
					}
					if a > b {
						// Process and real-time order follow time: they
						// never form a cycle on their own.
						rel &= relData
					}
					if rel == 0 {
						rel = kinds[rng.IntN(3)]
					}
					edges = append(edges, edge{int32(a), int32(b), rel})
				}
			}
		}
		g := buildGraph(n, edgeList(edges))
		want := bruteClasses(g)
		nodes := make([]int32, n)
		for i := range nodes {
			nodes[i] = int32(i)
		}
		s := newSearcher(context.Background(), g)
		s.enter(nodes) // the whole graph: every cycle lies in some component
		for i := range cycleSpecs {
			spec := &cycleSpecs[i]
			cyc, err := s.find(spec)
			if err != nil {
				t.Fatal(err)
			}
			if cyc != nil {
				if classify(cyc) != spec.name {
					t.Fatalf("iter %d: %s search returned a %s cycle %v", iter, spec.name, classify(cyc), cyc)
				}
				seen := map[int32]bool{}
				for j, st := range cyc {
					if seen[st.from] || cyc[(j+1)%len(cyc)].from != st.to || g.edgeRel(st.from, st.to)&st.rel == 0 {
						t.Fatalf("iter %d: bad cycle %v", iter, cyc)
					}
					seen[st.from] = true
				}
			}
			if (cyc != nil) != want[spec.name] {
				if cyc != nil {
					t.Fatalf("iter %d: found %s %v, brute force did not (%v); edges %v", iter, spec.name, cyc, want, edges)
				}
				misses++
				t.Logf("iter %d: missed %s (brute force: %v); edges %v", iter, spec.name, want, edges)
			}
		}
		s.leave()
	}
	if misses > 0 {
		t.Errorf("missed %d classes", misses)
	}
}
