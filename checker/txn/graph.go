package txn

import (
	"runtime"
	"slices"
	"sync"
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
// edge list, no global sort. The targets are split into contiguous ranges,
// one per worker, each building its range's in-edges and counting their
// sources; the transpose then fills each worker's share of every source's
// out-edge list at a place fixed by the counts, so the graph is the same
// however the work is scheduled. Producers must therefore be safe to call
// concurrently for different targets, and give the same edges every time.
//
// For a large graph the in-edge lists are not kept: the first pass only
// counts, and the second calls the producers again and writes each edge
// straight into its place, so that the graph and a copy of its edges are
// never held at once.
func buildGraph(n int, producers ...inEdges) *graph {
	w := 1
	if n >= graphParallelMin {
		w = min(runtime.GOMAXPROCS(0), graphMaxWorkers)
	}
	keep := n < graphTwoPassMin
	parts := make([]inPart, w)
	var deg []int32 // deg[t] is how many in-edges t has, if kept
	if keep {
		deg = make([]int32, n)
	}
	inParallel(parts, n, func(pt *inPart, lo, hi int32) {
		pt.outCnt = make([]int32, n)
		pt.collect(lo, hi, producers, func(t, from int32, r uint8) {
			if keep {
				pt.keep(from, r)
				deg[t]++
			}
			pt.outCnt[from]++
		})
	})
	// Each source's out-edges are in target order, so worker i's share
	// comes after those of workers < i.
	g := &graph{n: n, off: make([]int32, n+1)}
	for f := range n {
		at := g.off[f]
		for i := range parts {
			c := parts[i].outCnt[f]
			parts[i].outCnt[f] = at
			at += c
		}
		g.off[f+1] = at
	}
	total := g.off[n]
	g.to, g.rel = make([]int32, total), make([]uint8, total)
	inParallel(parts, n, func(pt *inPart, lo, hi int32) {
		if keep {
			pt.fill(g, lo, hi, deg)
		} else {
			pt.collect(lo, hi, producers, func(t, from int32, r uint8) {
				at := pt.outCnt[from]
				g.to[at], g.rel[at] = t, r
				pt.outCnt[from]++
			})
		}
		*pt = inPart{}
	})
	return g
}

// graphParallelMin is the fewest transactions for which buildGraph uses
// more than one worker; graphMaxWorkers the most it uses; graphTwoPassMin
// the fewest for which it calls the producers twice rather than keep the
// in-edge lists.
const (
	graphParallelMin = 1 << 14
	graphMaxWorkers  = 8
	graphTwoPassMin  = 1 << 22
)

// inParallel runs f for each part, on its share of [0, n), concurrently.
func inParallel(parts []inPart, n int, f func(pt *inPart, lo, hi int32)) {
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := int32(n*i/len(parts)), int32(n*(i+1)/len(parts))
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(&parts[i], lo, hi)
		}()
	}
	wg.Wait()
}

// inChunk is the size of the chunks in-edge lists are kept in, so that
// growing them never copies.
const inChunk = 1 << 20

// inPart is one worker's in-edges: those of a range of targets, in target
// order.
type inPart struct {
	from  [][]int32
	rel   [][]uint8
	total int
	// outCnt is, per source, how many of the part's edges leave it; then,
	// for the fill, where the next one goes in the graph.
	outCnt []int32
}

// collect produces the in-edges of targets [lo, hi) in order, merging
// parallel edges and dropping self-loops, and gives each to emit.
func (pt *inPart) collect(lo, hi int32, producers []inEdges, emit func(t, from int32, r uint8)) {
	var scratch []uint64
	add := func(from int32, rel uint8) {
		scratch = append(scratch, uint64(from)<<8|uint64(rel))
	}
	for t := lo; t < hi; t++ {
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
				emit(t, from, r)
			}
			i = j
		}
	}
}

// keep appends an in-edge to the part's lists.
func (pt *inPart) keep(from int32, r uint8) {
	if pt.total%inChunk == 0 {
		pt.from = append(pt.from, make([]int32, 0, inChunk))
		pt.rel = append(pt.rel, make([]uint8, 0, inChunk))
	}
	c := len(pt.from) - 1
	pt.from[c] = append(pt.from[c], from)
	pt.rel[c] = append(pt.rel[c], r)
	pt.total++
}

// fill writes the part's kept edges, of targets [lo, hi), into g's
// out-edge lists, releasing its chunks as it goes.
func (pt *inPart) fill(g *graph, lo, hi int32, deg []int32) {
	i := 0
	for t := lo; t < hi; t++ {
		for range deg[t] {
			c, k := i/inChunk, i%inChunk
			f := pt.from[c][k]
			at := pt.outCnt[f]
			g.to[at], g.rel[at] = t, pt.rel[c][k]
			pt.outCnt[f]++
			i++
			if k == inChunk-1 {
				pt.from[c], pt.rel[c] = nil, nil
			}
		}
	}
}

// edgeList is a producer over explicit edges (for the rw-register workload,
// whose version edges do not come target by target).
func edgeList(edges []edge) inEdges {
	slices.SortFunc(edges, func(a, b edge) int { return int(a.to - b.to) })
	// start[t] is where t's in-edges begin, for every t up to the last
	// target.
	var start []int32
	if len(edges) > 0 {
		start = make([]int32, edges[len(edges)-1].to+2)
		for _, e := range edges {
			start[e.to+1]++
		}
		for t := 1; t < len(start); t++ {
			start[t] += start[t-1]
		}
	}
	return func(t int32, add func(int32, uint8)) {
		if int(t)+1 >= len(start) {
			return
		}
		for _, e := range edges[start[t]:start[t+1]] {
			add(e.from, e.rel)
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
	// Walk the history once, noting for each transaction the frontier
	// cmps[loAt[t]:hiAt[t]] when it was invoked: hiAt[t] is how many
	// completions preceded its invocation. (Invocations come in
	// transaction order.) The producer is then a pure function of t, and
	// can be called for any t in any order.
	hiAt := make([]int32, len(p.txns))
	var loAt []int32
	if rt {
		loAt = make([]int32, len(p.txns))
	}
	next, lo := 0, 0 // next completion to take in; frontier is cmps[lo:next]
	for t := range p.txns {
		for next < len(cmps) && p.txns[cmps[next]].cmp < p.txns[t].inv {
			if h := int(hiAt[cmps[next]]); h > lo {
				lo = h
			}
			next++
		}
		hiAt[t] = int32(next)
		if rt {
			loAt[t] = int32(lo)
		}
	}
	return func(t int32, add func(int32, uint8)) {
		if p.txns[t].st == stFail {
			return
		}
		if prevOf[t] >= 0 {
			add(prevOf[t], relProc)
		}
		if !rt {
			return
		}
		for _, c := range cmps[loAt[t]:hiAt[t]] {
			add(c, relRT)
		}
	}
}
