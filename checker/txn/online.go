package txn

import (
	"context"
	"math"
	"math/bits"
	"slices"
)

// A list-append history's dependency graph, built while it is recorded
// (see Stream), so that a run's verdict comes moments after its final
// phase whatever its length.
//
// The graph is exactly the one the check at the end would build (the same
// pairs of transactions), kept as the history grows: each edge is added
// once both its transactions have been parsed and what it depends on is
// known (an element's writer, its place in its key's order, a reader of
// the state before it). Most edges are final when added; those of an
// append nobody has read yet hang on its key's order as far as it is
// known (appendPred: the last element read, and the readers of the
// longest state), so they are taken out and put back as the order grows.
// Edges are counted by how many reasons give them, and a pair leaves the
// graph when its last reason does.
//
// Cycles are looked for as edges come, by keeping a topological order of
// the graph (Pearce and Kelly's dynamic topological sort, "A dynamic
// topological sort algorithm for directed acyclic graphs", 2006): an edge
// that goes against the order makes a search of the nodes between its
// ends, which either finds the cycle it closes or reorders just those
// nodes. In a history the order is nearly the invocation order, and edges
// against it join transactions that ran at the same time, so that search
// stays among the transactions in flight together. Taking an edge out
// never breaks a topological order.
//
// The graph stands for the check only in the common case: every read a
// prefix of its key's order, no element read twice in it, no anomaly the
// list-append checks report outside cycles (which are found here as they
// are at the end, and lost updates, which are), and no cycle at all. The
// first thing out of that case stops the graph and frees it, and the check
// at the end then does all of its work as it would offline, so verdicts
// and explanations never depend on it. The tests compare the graph with
// the offline one, pair for pair, and the results whole.
type onlineGraph struct {
	p *parser
	// order: process (and, with rt, real-time) edges are part of the
	// graph, as checkFrom decides from the options.
	order, rt bool
	// off says why the graph stopped, "" while it runs.
	off string
	// keepGoing (tests) keeps the graph going through anomalies, to
	// compare its edges with the offline graph's in any history; it then
	// keeps no topological order.
	keepGoing bool
	// n is how many transactions have been taken in; edges join only
	// those.
	n int32

	// The graph: out-edges with their counts of reasons, and in-edges.
	out   [][]onlineEdge
	in    [][]int32
	edges int // distinct pairs
	// Its components, each a cycle's transactions (or one transaction):
	// comp is a union-find forest whose roots stand for the components,
	// members the transactions of those of more than one. A component
	// is at least a strongly connected component (taking an edge out can
	// split one, which the check at the end finds), and the graph of the
	// components has no cycle: ord is a topological order of it (distinct
	// numbers, by root).
	comp    []int32
	members map[int32][]int32
	ord     []int32
	// The components searched while the run went on (see searchSettled),
	// by root, for the cycles of scope; queue are the components to
	// search once they settle, with when they last changed.
	scope *cycleScope
	done  map[int32][]*compSearch
	queue []pendingComp
	// Search scratch: a node is visited in the current search if its mark
	// is epoch.
	mark         []uint32
	epoch        uint32
	fwd, bwd     []int32
	stack, slots []int32

	keys []onlineKey

	// Process order: each process's last transaction that did not fail.
	lastOf map[int32]int32
	// Real time, as orderEdges: ok transactions not yet known to have
	// completed before an invocation (a heap by completion), and those
	// that have, in completion order from cmpsAt on; lo and next are
	// orderEdges's frontier bounds, as positions in that sequence.
	pending  []pendingCmp
	cmps     []int32
	cmpsAt   int32
	lo, next int32
	counts   TxnCounts
}

// onlineEdge is an out-edge, with how many reasons of each kind give it
// (by relWW … relRT's bit).
type pendingComp struct{ root, at int32 }

type onlineEdge struct {
	to int32
	n  [5]uint8
}

// pendingCmp is an ok transaction waiting to be taken into the real-time
// frontier: its completion, and the frontier's end when it was invoked.
type pendingCmp struct{ cmp, txn, hiAt int32 }

// onlineKey is what the graph keeps of a key.
type onlineKey struct {
	// known is how much of the key's order has been taken in.
	known int32
	// readers are its committed reads, as state<<32 | txn, sorted.
	readers []uint64
	// tail are the elements appended by transactions that did not fail
	// and that nobody has read yet.
	tail []int32
	// lost are the states read by transactions that then appended to
	// the key, as state<<32 | txn (see lostCandidates).
	lost []uint64
}

// newOnlineGraph starts a graph over p's transactions.
// newOnlineGraph starts a graph over p's transactions, with process
// order, real time, and searching its components as the run goes on for
// the cycles of scope (if not nil).
func newOnlineGraph(p *parser, order, rt bool, scope *cycleScope) *onlineGraph {
	return &onlineGraph{p: p, order: order || rt, rt: rt, lastOf: map[int32]int32{}, scope: scope}
}

// stop turns the graph off for why (the first reason stands); take
// frees it.
func (g *onlineGraph) stop(why string) {
	if g.off == "" {
		g.off = why
	}
}

// ready: x is a transaction taken in that did not fail, so that edges
// may join it (committable, among those the graph has).
func (g *onlineGraph) ready(x int32) bool {
	return x >= 0 && x < g.n && g.p.txns[x].st != stFail
}

// anomaly stops the graph for an anomaly found (but for keepGoing).
func (g *onlineGraph) anomaly(why string) {
	if !g.keepGoing {
		g.stop(why)
	}
}

// take takes in the transaction the parser has just parsed, the last.
func (g *onlineGraph) take() {
	if g.off != "" {
		return
	}
	g.take1()
	if g.scope != nil && g.n%min(1024, searchWindow) == 0 {
		g.searchSettled()
	}
	if g.off != "" {
		*g = onlineGraph{off: g.off, p: g.p, keepGoing: g.keepGoing}
	}
}

func (g *onlineGraph) take1() {
	p := g.p
	T := int32(len(p.txns) - 1)
	if T != g.n {
		g.stop("a transaction was skipped")
		return
	}
	if len(p.incompatKeys) > 0 {
		g.stop("a read is not a prefix of its key's order (incompatible-order)")
		return
	}
	t := &p.txns[T]
	// The orders of the keys T read, as far as they grew.
	if t.st == stOK {
		for mi := t.m0; mi < t.m1 && g.off == ""; mi++ {
			if m := &p.mops[mi]; m.f == fRead {
				g.grow(m.key)
			}
		}
		if g.off != "" {
			return
		}
	}
	g.n++
	g.ord = append(g.ord, T)
	g.comp = append(g.comp, T)
	g.out = append(g.out, nil)
	g.in = append(g.in, nil)
	g.mark = append(g.mark, 0)
	g.realtime(T)
	switch t.st {
	case stOK:
		g.counts.OK++
	case stInfo:
		g.counts.Info++
	case stFail:
		g.counts.Fail++
		// Isolated: no edge joins a failed transaction. But its writes
		// must never be read (G1a, dirty-update).
		for mi := t.m0; mi < t.m1; mi++ {
			if m := &p.mops[mi]; m.f == fAppend && p.elems[m.slot].pos >= 0 {
				g.anomaly("an element appended by a failed transaction was read (G1a)")
				return
			}
		}
		return
	}
	if t.st == stOK {
		if why := g.localAnomaly(T); why != "" {
			g.anomaly(why)
			if g.off != "" {
				return
			}
		}
		g.addReads(T)
		if g.off != "" {
			return
		}
	}
	g.into(T)
	if g.off != "" {
		return
	}
	g.from(T)
}

// grow takes in what key k's order gained: the edges of its unread
// appends move to the new end, and the appends now placed get their
// final edges.
func (g *onlineGraph) grow(k int32) {
	p := g.p
	g.growKeys(k)
	o, ks := &p.orders[k], &g.keys[k]
	L, L2 := ks.known, int32(len(o.slots))
	if L2 == L {
		return
	}
	if o.dupAt >= 0 {
		g.stop("an element appears twice in a read (duplicate-elements)")
		return
	}
	for _, s := range ks.tail {
		g.anchor(k, p.elems[s].writer, L, -1)
	}
	for i := L; i < L2; i++ {
		w := p.elems[o.slots[i]].writer
		if w >= 0 && w < g.n && p.txns[w].st == stFail {
			g.anomaly("an element appended by a failed transaction was read (G1a)")
		}
		if g.ready(w) {
			g.anchor(k, w, i, +1)
		}
	}
	ks.known = L2
	ks.tail = slices.DeleteFunc(ks.tail, func(s int32) bool { return p.elems[s].pos >= 0 })
	for _, s := range ks.tail {
		g.anchor(k, p.elems[s].writer, L2, +1)
	}
}

// anchor adds (d = +1) or takes out (d = -1) the ww and rw in-edges of
// w's append to key k placed after state a (appendEdges): from the
// writer of the element before it, and from the readers of state a.
func (g *onlineGraph) anchor(k, w, a int32, d int32) {
	p := g.p
	if a >= 1 {
		if pw := p.elems[p.orders[k].slots[a-1]].writer; g.ready(pw) && pw != w {
			g.edge(pw, w, relWW, d)
		}
	}
	for _, r := range g.readersOf(k, a) {
		if rt := int32(uint32(r)); rt != w {
			g.edge(rt, w, relRW, d)
		}
	}
}

// readersOf are the readers of state a of key k (taken in).
func (g *onlineGraph) readersOf(k, a int32) []uint64 {
	seg := g.keys[k].readers
	lo, _ := slices.BinarySearch(seg, uint64(a)<<32)
	hi := lo
	for hi < len(seg) && int32(seg[hi]>>32) == a {
		hi++
	}
	return seg[lo:hi]
}

// localAnomaly is why committed T shows an anomaly the list-append checks
// find outside cycles, as far as T alone (with what was taken in before
// it) can tell: internal, future-read, or a lost update with an earlier
// transaction. "" if none.
func (g *onlineGraph) localAnomaly(T int32) string {
	p := g.p
	if _, _, _, bad := internalCase(&p.parsed, T); bad {
		return "a transaction contradicts its own earlier operations (internal)"
	}
	if _, _, bad := futureReadCase(&p.parsed, T); bad {
		return "a transaction read its own future write (future-read)"
	}
	t := &p.txns[T]
	for i := t.m0; i < t.m1; i++ {
		m := &p.mops[i]
		if m.f != fRead || !readThenWrites(&p.parsed, T, i) {
			continue
		}
		ks := &g.keys[m.key]
		for _, c := range ks.lost {
			if int32(c>>32) == m.n {
				return "two committed transactions read the same state of a key and both appended to it (lost-update)"
			}
		}
		ks.lost = append(ks.lost, uint64(m.n)<<32|uint64(T))
	}
	return ""
}

// addReads makes committed T a reader of the states it read, and checks
// that no read ends in an intermediate append (G1b).
func (g *onlineGraph) addReads(T int32) {
	p := g.p
	t := &p.txns[T]
	for mi := t.m0; mi < t.m1; mi++ {
		m := &p.mops[mi]
		if m.f != fRead {
			continue
		}
		ks := &g.keys[m.key]
		r := uint64(m.n)<<32 | uint64(T)
		at, _ := slices.BinarySearch(ks.readers, r)
		ks.readers = slices.Insert(ks.readers, at, r)
		if m.slot >= 0 {
			e := &p.elems[m.slot]
			if e.flags&elIntermediate != 0 && e.writer != T && g.ready(e.writer) {
				g.anomaly("a read ends in an intermediate append (G1b)")
			}
		}
	}
}

// into adds T's in-edges from the transactions taken in before it.
func (g *onlineGraph) into(T int32) {
	p := g.p
	t := &p.txns[T]
	for mi := t.m0; mi < t.m1; mi++ {
		m := &p.mops[mi]
		switch m.f {
		case fAppend:
			g.growKeys(m.key)
			ks := &g.keys[m.key]
			a := p.elems[m.slot].pos
			if a < 0 {
				a = ks.known
				ks.tail = append(ks.tail, m.slot)
			}
			g.anchor(m.key, T, a, +1)
		case fRead:
			if t.st == stOK && m.slot >= 0 {
				if w := p.elems[m.slot].writer; g.ready(w) && w != T {
					g.edge(w, T, relWR, +1)
				}
			}
		}
	}
	if !g.order {
		return
	}
	if prev, ok := g.lastOf[t.proc]; ok {
		g.edge(prev, T, relProc, +1)
	}
	g.lastOf[t.proc] = T
	if g.rt {
		for _, c := range g.cmps[g.lo-g.cmpsAt : g.next-g.cmpsAt] {
			g.edge(c, T, relRT, +1)
		}
	}
}

// from adds T's out-edges to the transactions taken in before it.
func (g *onlineGraph) from(T int32) {
	p := g.p
	t := &p.txns[T]
	for mi := t.m0; mi < t.m1 && g.off == ""; mi++ {
		m := &p.mops[mi]
		switch m.f {
		case fAppend:
			pos := p.elems[m.slot].pos
			if pos < 0 {
				continue
			}
			// ww to the append after it.
			g.toAppendAfter(T, m.key, pos+1, relWW)
			// wr to the reads that end in it.
			for _, r := range g.readersOf(m.key, pos+1) {
				if rt := int32(uint32(r)); rt != T {
					if p.elems[m.slot].flags&elIntermediate != 0 {
						g.anomaly("a read ends in an intermediate append (G1b)")
					}
					g.edge(T, rt, relWR, +1)
				}
			}
		case fRead:
			// rw to the append after the state it read.
			if t.st == stOK {
				g.toAppendAfter(T, m.key, m.n, relRW)
			}
		}
	}
}

// toAppendAfter adds the edge from T to the writer of every append after
// state a of key k: the one at position a, or those not read yet if a is
// the end of the order.
func (g *onlineGraph) toAppendAfter(T, k, a int32, rel uint8) {
	p := g.p
	ks := &g.keys[k]
	if a < ks.known {
		if w := p.elems[p.orders[k].slots[a]].writer; g.ready(w) && w != T {
			g.edge(T, w, rel, +1)
		}
		return
	}
	for _, s := range ks.tail {
		if w := p.elems[s].writer; w != T {
			g.edge(T, w, rel, +1)
		}
	}
}

func (g *onlineGraph) growKeys(k int32) {
	for int(k) >= len(g.keys) {
		g.keys = append(g.keys, onlineKey{})
	}
}

// realtime moves the real-time frontier to T's invocation, as orderEdges
// does, and queues T's completion if it is ok.
func (g *onlineGraph) realtime(T int32) {
	if !g.rt {
		return
	}
	t := &g.p.txns[T]
	for len(g.pending) > 0 && g.pending[0].cmp < t.inv {
		c := g.popPending()
		g.lo = max(g.lo, c.hiAt)
		g.cmps = append(g.cmps, c.txn)
		g.next++
	}
	// Drop what fell behind the frontier.
	if drop := g.lo - g.cmpsAt; drop > 1024 && drop > int32(len(g.cmps))/2 {
		g.cmps = slices.Delete(g.cmps, 0, int(drop))
		g.cmpsAt = g.lo
	}
	if t.st == stOK {
		g.pushPending(pendingCmp{cmp: t.cmp, txn: T, hiAt: g.next})
	}
}

func (g *onlineGraph) pushPending(c pendingCmp) {
	h := append(g.pending, c)
	i := len(h) - 1
	for i > 0 {
		up := (i - 1) / 2
		if h[up].cmp <= h[i].cmp {
			break
		}
		h[up], h[i] = h[i], h[up]
		i = up
	}
	g.pending = h
}

func (g *onlineGraph) popPending() pendingCmp {
	h := g.pending
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].cmp < h[m].cmp {
			m = l
		}
		if r < len(h) && h[r].cmp < h[m].cmp {
			m = r
		}
		if m == i {
			break
		}
		h[m], h[i] = h[i], h[m]
		i = m
	}
	g.pending = h
	return top
}

// edge adds (d = +1) or takes out (d = -1) one reason of kind rel for
// the edge u → v.
func (g *onlineGraph) edge(u, v int32, rel uint8, d int32) {
	if u == v || g.off != "" {
		return
	}
	if ru := g.find(u); ru == g.find(v) {
		g.dirty(ru) // within a component: its cycles change
	}
	k := bits.TrailingZeros8(rel)
	out := g.out[u]
	for i := range out {
		if out[i].to != v {
			continue
		}
		c := int32(out[i].n[k]) + d
		if c < 0 || c > math.MaxUint8 {
			g.stop("internal error: an edge's reasons miscounted")
			return
		}
		out[i].n[k] = uint8(c)
		if out[i].n == ([5]uint8{}) {
			out[i] = out[len(out)-1]
			g.out[u] = out[:len(out)-1]
			in := g.in[v]
			j := slices.Index(in, u)
			in[j] = in[len(in)-1]
			g.in[v] = in[:len(in)-1]
			g.edges--
		}
		return
	}
	if d < 0 {
		g.stop("internal error: an edge taken out that was never added")
		return
	}
	e := onlineEdge{to: v}
	e.n[k] = 1
	g.out[u] = append(out, e)
	g.in[v] = append(g.in[v], u)
	g.edges++
	if ru, rv := g.find(u), g.find(v); ru != rv && g.ord[ru] > g.ord[rv] {
		g.reorder(ru, rv)
	}
}

// rel is the kinds of an edge.
func (e *onlineEdge) rel() uint8 {
	var r uint8
	for k, c := range e.n {
		if c > 0 {
			r |= 1 << k
		}
	}
	return r
}

// find is x's component: the node that stands for it in the order.
func (g *onlineGraph) find(x int32) int32 {
	r := x
	for g.comp[r] != r {
		r = g.comp[r]
	}
	for g.comp[x] != r {
		x, g.comp[x] = g.comp[x], r
	}
	return r
}

// maxOnlineComponent is the most transactions a component may have: the
// graph's searches walk a component's every edge, so a larger one stops
// it, and the check at the end searches the whole graph.
const maxOnlineComponent = 4096

// reorder restores the topological order of the components after the
// edge u → v between two of them was added against it (Pearce and
// Kelly): the components v reaches and u is reached from, among those
// between them in the order, move, those reaching u first. If v reaches
// u, the edge closed a cycle, and the components on its paths from v to u
// become one, placed between the others.
func (g *onlineGraph) reorder(u, v int32) {
	if g.epoch > math.MaxUint32-4 {
		clear(g.mark)
		g.epoch = 0
	}
	// Marks: found forward, found backward, found both ways.
	eF, eB, eBoth := g.epoch+1, g.epoch+2, g.epoch+3
	g.epoch += 3
	// Forward from v, among the components before u; backward from u,
	// among those after v.
	var cycle bool
	g.fwd, cycle = g.search(v, u, g.fwd[:0], eF, 0, 0)
	g.bwd, _ = g.search(u, v, g.bwd[:0], eB, eF, eBoth)
	byOrd := func(a, b int32) int { return int(g.ord[a] - g.ord[b]) }
	slices.SortFunc(g.fwd, byOrd)
	slices.SortFunc(g.bwd, byOrd)
	g.slots = g.slots[:0]
	for _, x := range g.bwd {
		g.slots = append(g.slots, g.ord[x])
	}
	for _, x := range g.fwd {
		if g.mark[x] != eBoth { // else in bwd too
			g.slots = append(g.slots, g.ord[x])
		}
	}
	slices.Sort(g.slots)
	// B's nodes take the lowest numbers and F's the highest, so that
	// each only moves down, and each of F's only up (Pearce and Kelly's
	// argument that the edges from and to the others still go forward).
	// Without a cycle the two sets are apart. With one, the components on
	// it (found both ways, and u and v) become one, placed between; the
	// numbers left over stay unused.
	lo := 0
	for _, x := range g.bwd {
		if !cycle || x != u && g.mark[x] != eBoth {
			g.ord[x] = g.slots[lo]
			lo++
		}
	}
	hi := len(g.slots)
	for _, x := range slices.Backward(g.fwd) {
		if !cycle || x != v && g.mark[x] != eBoth {
			hi--
			g.ord[x] = g.slots[hi]
		}
	}
	if !cycle {
		return
	}
	merged := []int32{u, v}
	for _, x := range g.bwd {
		if g.mark[x] == eBoth {
			merged = append(merged, x)
		}
	}
	root := g.merge(merged)
	g.ord[root] = g.slots[lo]
}

// merge makes the components cs one, and returns it.
func (g *onlineGraph) merge(cs []int32) int32 {
	root, size := cs[0], 0
	for _, c := range cs {
		size += g.size(c)
		if g.size(c) > g.size(root) {
			root = c
		}
	}
	if size > maxOnlineComponent {
		g.stop("a strongly connected component grew too large to follow")
		return root
	}
	if g.members == nil {
		g.members = map[int32][]int32{}
	}
	all := g.members[root]
	if all == nil {
		all = []int32{root}
	}
	for _, c := range cs {
		if c == root {
			continue
		}
		if m := g.members[c]; m != nil {
			all = append(all, m...)
			delete(g.members, c)
		} else {
			all = append(all, c)
		}
		g.comp[c] = root
	}
	g.members[root] = all
	for _, c := range cs {
		delete(g.done, c)
	}
	g.dirty(root)
	return root
}

// size is how many transactions component c has.
func (g *onlineGraph) size(c int32) int {
	if m, ok := g.members[c]; ok {
		return len(m)
	}
	return 1
}

// search collects into found the components reachable from component
// start among those between start and end in the order, forward if end
// comes after start, else backward, marking each with mine; or, if it
// was marked seen (by a search the other way), with both. cycle: going
// forward, it reached end.
func (g *onlineGraph) search(start, end int32, found []int32, mine, seen, both uint32) (_ []int32, cycle bool) {
	fwd, bound := g.ord[start] < g.ord[end], g.ord[end]
	g.stack = append(g.stack[:0], start)
	g.mark[start] = mine
	visit := func(w int32) {
		w = g.find(w)
		if w == end && fwd {
			cycle = true
		}
		switch m := g.mark[w]; {
		case m == mine || both != 0 && m == both:
			return
		case fwd && g.ord[w] < bound || !fwd && g.ord[w] > bound:
			if seen != 0 && m == seen {
				g.mark[w] = both
			} else {
				g.mark[w] = mine
			}
			g.stack = append(g.stack, w)
		}
	}
	one := []int32{0}
	for len(g.stack) > 0 {
		c := g.stack[len(g.stack)-1]
		g.stack = g.stack[:len(g.stack)-1]
		found = append(found, c)
		ms := g.members[c]
		if ms == nil {
			one[0] = c
			ms = one
		}
		for _, x := range ms {
			if fwd {
				for _, e := range g.out[x] {
					visit(e.to)
				}
			} else {
				for _, w := range g.in[x] {
					visit(w)
				}
			}
		}
	}
	return found, cycle
}

// components are the graph's components of more than one transaction
// that have not been searched yet, as a subgraph (see subgraph) and its
// strongly connected components, and the searches of the others.
func (g *onlineGraph) components() (cg *graph, comps [][]int32, global []int32, done []*compSearch) {
	for r, ms := range g.members {
		if d, ok := g.done[r]; ok {
			done = append(done, d...)
			continue
		}
		global = append(global, ms...)
	}
	slices.Sort(global)
	cg = g.subgraph(global)
	return cg, sccsOf(cg), global, done
}

// subgraph is the graph of the edges within the components of the
// transactions global (sorted), numbered in that order; each node's
// out-edges in order, as buildGraph has them.
func (g *onlineGraph) subgraph(global []int32) *graph {
	var local func(x int32) int32
	if len(global) > int(g.n)/64 {
		at := make([]int32, g.n)
		for i, x := range global {
			at[x] = int32(i)
		}
		local = func(x int32) int32 { return at[x] }
	} else {
		local = func(x int32) int32 {
			i, _ := slices.BinarySearch(global, x)
			return int32(i)
		}
	}
	cg := &graph{n: len(global), off: make([]int32, len(global)+1)}
	var out []onlineEdge
	for i, x := range global {
		c := g.find(x)
		out = out[:0]
		for _, e := range g.out[x] {
			if g.find(e.to) == c {
				out = append(out, e)
			}
		}
		slices.SortFunc(out, func(a, b onlineEdge) int { return int(a.to - b.to) })
		for j := range out {
			cg.to = append(cg.to, local(out[j].to))
			cg.rel = append(cg.rel, out[j].rel())
		}
		cg.off[i+1] = int32(len(cg.to))
	}
	return cg
}

// searchWindow is how far behind the newest transaction taken in a
// component's newest must be for the component to be searched while the
// run goes on: by then it rarely changes, and if it does it is searched
// again at the end. (A variable for tests.)
var searchWindow int32 = 1 << 14

// searchSettled searches the components whose transactions are all
// searchWindow behind, keeping what it finds for the end (done); a
// component that changes after loses it (dirty).
func (g *onlineGraph) searchSettled() {
	for len(g.queue) > 0 && g.queue[0].at+searchWindow <= g.n && g.off == "" {
		r := g.queue[0].root
		g.queue = g.queue[1:]
		ms := g.members[r]
		if g.comp[r] != r || ms == nil || g.done[r] != nil {
			continue
		}
		if newest := slices.Max(ms); newest+searchWindow > g.n {
			g.queue = append(g.queue, pendingComp{r, newest})
			continue
		}
		global := slices.Sorted(slices.Values(ms))
		cg := g.subgraph(global)
		s := newSearcher(context.Background(), cg)
		var p *parsed
		if g.p != nil { // tests
			p = &g.p.parsed
		}
		var found []*compSearch
		for _, c := range sccsOf(cg) {
			found = append(found, g.scope.search(p, s, c, global))
		}
		if g.done == nil {
			g.done = map[int32][]*compSearch{}
		}
		g.done[r] = found
	}
	if len(g.queue) == 0 {
		g.queue = nil
	}
}

// dirty: component c changed, so it is searched again.
func (g *onlineGraph) dirty(c int32) {
	delete(g.done, c)
	if g.scope != nil {
		g.queue = append(g.queue, pendingComp{c, g.n})
	}
}

// certified: the graph stands for the check at the end, which then knows
// without building anything that the history has no anomaly but cycles,
// how many edges its graph has, and where its cycles are (components).
func (g *onlineGraph) certified() bool {
	return g != nil && g.off == "" && g.edges > 0 && int(g.n) == len(g.p.txns)
}
