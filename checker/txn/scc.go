package txn

// Strongly connected components by Tarjan's algorithm, iteratively (an
// explicit call stack), so that a history of a million transactions in one
// long chain cannot overflow the goroutine stack.

// sccFinder finds the strongly connected components of a graph restricted
// to a set of nodes and to edges of some kinds. Its arrays are indexed by
// local node number and reused across calls.
type sccFinder struct {
	index, low []int32
	onStack    []bool
	stack      []int32
	calls      []sccFrame
	// comp is each local node's component number (after run).
	comp []int32
}

type sccFrame struct {
	v    int32 // local
	next int32 // position in the out-edge list of v
}

// run computes the components of the subgraph of g induced by nodes (global
// ids), following only edges whose kinds intersect mask. local maps a
// global id to its position in nodes, or -1 if it is not in the set. It
// returns the number of components; comp[i] is the component of nodes[i].
// Components are numbered in reverse topological order (sinks first).
func (s *sccFinder) run(g *graph, nodes []int32, local []int32, mask uint8) int {
	n := len(nodes)
	s.index = resize(s.index, n)
	s.low = resize(s.low, n)
	s.comp = resize(s.comp, n)
	if cap(s.onStack) < n {
		s.onStack = make([]bool, n)
	}
	s.onStack = s.onStack[:n]
	for i := range n {
		s.index[i] = -1
		s.onStack[i] = false
	}
	s.stack = s.stack[:0]
	counter, ncomp := int32(0), 0
	for root := range n {
		if s.index[root] >= 0 {
			continue
		}
		s.calls = append(s.calls[:0], sccFrame{v: int32(root), next: g.off[nodes[root]]})
		s.index[root], s.low[root] = counter, counter
		counter++
		s.stack = append(s.stack, int32(root))
		s.onStack[root] = true
		for len(s.calls) > 0 {
			f := &s.calls[len(s.calls)-1]
			v := f.v
			gv := nodes[v]
			end := g.off[gv+1]
			descended := false
			for f.next < end {
				i := f.next
				f.next++
				if g.rel[i]&mask == 0 {
					continue
				}
				w := local[g.to[i]]
				if w < 0 {
					continue
				}
				if s.index[w] < 0 {
					s.index[w], s.low[w] = counter, counter
					counter++
					s.stack = append(s.stack, w)
					s.onStack[w] = true
					s.calls = append(s.calls, sccFrame{v: w, next: g.off[nodes[w]]})
					descended = true
					break
				} else if s.onStack[w] && s.index[w] < s.low[v] {
					s.low[v] = s.index[w]
				}
			}
			if descended {
				continue
			}
			// v is done.
			if s.low[v] == s.index[v] {
				for {
					w := s.stack[len(s.stack)-1]
					s.stack = s.stack[:len(s.stack)-1]
					s.onStack[w] = false
					s.comp[w] = int32(ncomp)
					if w == v {
						break
					}
				}
				ncomp++
			}
			s.calls = s.calls[:len(s.calls)-1]
			if len(s.calls) > 0 {
				u := s.calls[len(s.calls)-1].v
				if s.low[v] < s.low[u] {
					s.low[u] = s.low[v]
				}
			}
		}
	}
	return ncomp
}

// groups lists the components with at least two nodes, as global ids.
func (s *sccFinder) groups(nodes []int32, ncomp int) [][]int32 {
	size := make([]int32, ncomp)
	for i := range nodes {
		size[s.comp[i]]++
	}
	var out [][]int32
	at := make([]int32, ncomp)
	for c := range size {
		at[c] = -1
		if size[c] > 1 {
			at[c] = int32(len(out))
			out = append(out, make([]int32, 0, size[c]))
		}
	}
	for i, v := range nodes {
		if k := at[s.comp[i]]; k >= 0 {
			out[k] = append(out[k], v)
		}
	}
	return out
}

func resize(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}
