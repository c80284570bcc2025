package txn

import (
	"slices"
)

// Dependency kinds, as bits: an edge between two transactions may carry
// several.
const (
	relWW   uint8 = 1 << iota // write-write: To overwrote From's version
	relWR                     // write-read: To read From's version
	relRW                     // read-write (anti-dependency): To overwrote the version From read
	relProc                   // process order: same process, From first
	relRT                     // real time: From completed before To was invoked
)

const relData = relWW | relWR | relRW

var relNames = map[uint8]string{relWW: "ww", relWR: "wr", relRW: "rw", relProc: "process", relRT: "realtime"}

type edge struct {
	from, to int32
	rel      uint8
}

// graph is a directed graph over transactions in compressed sparse row
// form: the out-edges of v are to[off[v]:off[v+1]], with their kinds in
// rel. Parallel edges are merged, their kinds or-ed.
type graph struct {
	n   int
	off []int32
	to  []int32
	rel []uint8
}

// inEdges produces the in-edges of transaction t by calling add. Producers
// are called for t = 0, 1, … in order, which lets the order producer walk
// the history once.
type inEdges func(t int32, add func(from int32, rel uint8))

// buildGraph builds the graph over n transactions from in-edge producers.
// Every producer already knows its edges target by target, so we build the
// in-edge lists directly (merging parallel edges) and transpose them: no
// edge list, no global sort.
func buildGraph(n int, producers ...inEdges) *graph {
	// The in-edge lists, in chunks so that growing never copies.
	const chunk = 1 << 20
	var inFrom [][]int32
	var inRel [][]uint8
	inOff := make([]int64, n+1)
	total := int64(0)
	var scratch []uint64
	add := func(from int32, rel uint8) {
		scratch = append(scratch, uint64(from)<<8|uint64(rel))
	}
	for t := range int32(n) {
		scratch = scratch[:0]
		for _, p := range producers {
			p(t, add)
		}
		if len(scratch) > 1 {
			slices.Sort(scratch)
		}
		for i := 0; i < len(scratch); {
			from := int32(scratch[i] >> 8)
			r := uint8(scratch[i])
			j := i + 1
			for ; j < len(scratch) && int32(scratch[j]>>8) == from; j++ {
				r |= uint8(scratch[j])
			}
			if from != t {
				if total%chunk == 0 {
					inFrom = append(inFrom, make([]int32, 0, chunk))
					inRel = append(inRel, make([]uint8, 0, chunk))
				}
				c := len(inFrom) - 1
				inFrom[c] = append(inFrom[c], from)
				inRel[c] = append(inRel[c], r)
				total++
			}
			i = j
		}
		inOff[t+1] = total
	}
	// Transpose.
	g := &graph{n: n, off: make([]int32, n+1), to: make([]int32, total), rel: make([]uint8, total)}
	for _, c := range inFrom {
		for _, f := range c {
			g.off[f+1]++
		}
	}
	for i := 1; i <= n; i++ {
		g.off[i] += g.off[i-1]
	}
	fill := slices.Clone(g.off[:n])
	for t := range int32(n) {
		for i := inOff[t]; i < inOff[t+1]; i++ {
			f := inFrom[i/chunk][i%chunk]
			g.to[fill[f]] = t
			g.rel[fill[f]] = inRel[i/chunk][i%chunk]
			fill[f]++
		}
	}
	return g
}

// edgeList is a producer over explicit edges (for the rw-register workload,
// whose version edges do not come target by target).
func edgeList(edges []edge) inEdges {
	slices.SortFunc(edges, func(a, b edge) int { return int(a.to - b.to) })
	i := 0
	return func(t int32, add func(int32, uint8)) {
		for i < len(edges) && edges[i].to < t {
			i++
		}
		for ; i < len(edges) && edges[i].to == t; i++ {
			add(edges[i].from, edges[i].rel)
		}
	}
}

// edgeRel is the kinds of the edge a → b, or 0.
func (g *graph) edgeRel(a, b int32) uint8 {
	for i := g.off[a]; i < g.off[a+1]; i++ {
		if g.to[i] == b {
			return g.rel[i]
		}
	}
	return 0
}

// orderEdges produces the process-order and, if rt, the real-time in-edges
// of the transactions that may have committed (ok and info).
//
// Process order links each transaction to the next one of its process.
// Real time is the transitive reduction Elle computes: keeping the ok
// completions in completion order, an invocation is linked from every
// completion not yet known to precede another completion it follows; once a
// transaction completes, every completion that was linked to it is
// dropped, since paths through it cover them. That keeps the edges near
// n × (typical concurrency) rather than n².
func orderEdges(p *parsed, rt bool) inEdges {
	prevOf := make([]int32, len(p.txns))
	last := make(map[int32]int32, 128)
	for ti := range p.txns {
		t := &p.txns[ti]
		prevOf[ti] = -1
		if t.st == stFail {
			continue
		}
		if prev, ok := last[t.proc]; ok {
			prevOf[ti] = prev
		}
		last[t.proc] = int32(ti)
	}
	// Ok completions in history order.
	var cmps []int32
	for ti := range p.txns {
		if p.txns[ti].st == stOK {
			cmps = append(cmps, int32(ti))
		}
	}
	slices.SortFunc(cmps, func(a, b int32) int { return int(p.txns[a].cmp - p.txns[b].cmp) })
	// hiAtInvoke[t]: how many completions preceded t's invocation.
	hiAtInvoke := make([]int32, len(p.txns))
	next, lo := 0, 0 // next completion to take in; frontier is cmps[lo:next]
	return func(t int32, add func(int32, uint8)) {
		tx := &p.txns[t]
		// Take in the completions before t's invocation. (Invocations come
		// in transaction order, so this walks the history once.)
		for next < len(cmps) && p.txns[cmps[next]].cmp < tx.inv {
			c := cmps[next]
			if h := int(hiAtInvoke[c]); h > lo {
				lo = h
			}
			next++
		}
		hiAtInvoke[t] = int32(next)
		if tx.st == stFail {
			return
		}
		if prevOf[t] >= 0 {
			add(prevOf[t], relProc)
		}
		if !rt {
			return
		}
		for _, c := range cmps[lo:next] {
			add(c, relRT)
		}
	}
}
