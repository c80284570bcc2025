package txn

import (
	"slices"
)

// Read-write register inference. Writes are of values unique per key, so a
// read names the one write it observed (wr). The version order is only
// partly knowable; as Elle does, we take only edges we can justify:
//
//   - the initial state nil precedes every value of every key (Elle's
//     initial-state version graph, always);
//   - with Options.WFRKeys only (Elle's :wfr-keys?, off by default),
//     writes follow reads: a committed transaction that read x = v1 (its
//     first access to x) and then wrote x = v2 installed v2 after v1.
//
// Only external reads (a txn's first access to a key, as jepsen.txn's
// ext-reads) and external writes (its last write of a key, ext-writes)
// enter the order, since nobody else can observe the rest: a read after the
// transaction's own write of the key gives no edge, nor does a read of
// another transaction's intermediate value (no external write wrote it, so
// no wr edge, and its versions have no writer to order; it is G1b). If the
// writes-follow-reads orders are cyclic, that is cyclic-versions, and, as
// Elle drops a version source that makes the version graph cyclic, every
// key falls back to the initial-state edges alone. Each version edge
// v1 → v2 gives ww from the writer of v1 to the writer of v2, and rw from
// every external reader of v1 to the writer of v2. (v1 → v2 need not be
// adjacent versions: the edge then stands for the path through the versions
// between, which has the same rw count.)

type regIndex struct {
	// extRead[mi] / extWrite[mi]: the micro-op is the txn's first access
	// to its key and a read / its last write of its key.
	extRead, extWrite []bool
	// readersOf values: for slot s, readers[roff[s]:roff[s+1]] are the
	// committed txns that externally read it; nilReaders likewise per key.
	roff, readers     []int32
	nroff, nilReaders []int32
}

func buildRegIndex(p *parsed) *regIndex {
	ix := &regIndex{extRead: make([]bool, len(p.mops)), extWrite: make([]bool, len(p.mops))}
	for ti := range p.txns {
		t := &p.txns[ti]
		for i := t.m0; i < t.m1; i++ {
			m := &p.mops[i]
			first, last := true, true
			for j := t.m0; j < t.m1; j++ {
				o := &p.mops[j]
				if o.key != m.key || j == i {
					continue
				}
				if j < i {
					first = false
				} else if o.f == fWrite {
					last = false
				}
			}
			ix.extRead[i] = m.f == fRead && first && t.st == stOK
			ix.extWrite[i] = m.f == fWrite && last
		}
	}
	ix.roff = make([]int32, len(p.elems)+1)
	ix.nroff = make([]int32, len(p.keys)+1)
	for i := range p.mops {
		if !ix.extRead[i] {
			continue
		}
		if m := &p.mops[i]; m.flags&mopNil != 0 {
			ix.nroff[m.key+1]++
		} else {
			ix.roff[m.slot+1]++
		}
	}
	for i := 1; i < len(ix.roff); i++ {
		ix.roff[i] += ix.roff[i-1]
	}
	for i := 1; i < len(ix.nroff); i++ {
		ix.nroff[i] += ix.nroff[i-1]
	}
	ix.readers = make([]int32, ix.roff[len(p.elems)])
	ix.nilReaders = make([]int32, ix.nroff[len(p.keys)])
	fill := slices.Clone(ix.roff)
	nfill := slices.Clone(ix.nroff)
	for ti := range p.txns {
		t := &p.txns[ti]
		for i := t.m0; i < t.m1; i++ {
			if !ix.extRead[i] {
				continue
			}
			if m := &p.mops[i]; m.flags&mopNil != 0 {
				ix.nilReaders[nfill[m.key]] = int32(ti)
				nfill[m.key]++
			} else {
				ix.readers[fill[m.slot]] = int32(ti)
				fill[m.slot]++
			}
		}
	}
	return ix
}

// versionEdge: on key, version from precedes version to (from -1 is nil).
type versionEdge struct {
	key      int32
	from, to int32
	// by is the txn that read from and wrote to (writes follow reads); -1
	// for initial-state edges.
	by int32
}

// regVersions infers the version orders (writes following reads only if
// wfr) and reports cyclic versions.
func regVersions(p *parsed, ix *regIndex, rep *reporter, wfr bool) []versionEdge {
	var vs []versionEdge
	seen := make([]bool, len(p.elems))
	for ti := range p.txns {
		t := &p.txns[ti]
		if t.st == stFail {
			continue
		}
		for i := t.m0; i < t.m1; i++ {
			m := &p.mops[i]
			if (ix.extWrite[i] || (ix.extRead[i] && m.flags&mopNil == 0)) && !seen[m.slot] {
				seen[m.slot] = true
				vs = append(vs, versionEdge{m.key, -1, m.slot, -1})
			}
		}
	}
	if !wfr {
		return vs
	}
	return append(vs, wfrVersions(p, ix, rep)...)
}

// wfrVersions are the version edges writes following reads imply, or
// none if they are cyclic (reported as cyclic-versions).
func wfrVersions(p *parsed, ix *regIndex, rep *reporter) []versionEdge {
	var wfr []versionEdge
	for ti := range p.txns {
		t := &p.txns[ti]
		if t.st != stOK {
			continue
		}
		for i := t.m0; i < t.m1; i++ {
			r := &p.mops[i]
			if !ix.extRead[i] || r.flags&mopNil != 0 {
				continue
			}
			for j := i + 1; j < t.m1; j++ {
				if w := &p.mops[j]; ix.extWrite[j] && w.key == r.key && w.slot != r.slot {
					wfr = append(wfr, versionEdge{r.key, r.slot, w.slot, int32(ti)})
				}
			}
		}
	}
	if len(wfr) == 0 {
		return nil
	}
	// Cycles among values: components of the wfr graph over slots.
	edges := make([]edge, len(wfr))
	for i, e := range wfr {
		edges[i] = edge{e.from, e.to, relWW}
	}
	g := buildGraph(len(p.elems), edgeList(edges))
	nodes := make([]int32, len(p.elems))
	for i := range nodes {
		nodes[i] = int32(i)
	}
	var s sccFinder
	nc := s.run(g, nodes, nodes, relWW)
	comps := s.groups(nodes, nc)
	for _, comp := range comps {
		rep.add("cyclic-versions", func(b *caseBuilder) { explainCyclicVersions(b, comp, wfr) })
	}
	if len(comps) > 0 {
		return nil
	}
	return wfr
}

func explainCyclicVersions(b *caseBuilder, comp []int32, wfr []versionEdge) {
	p := b.p
	in := map[int32]bool{}
	for _, s := range comp {
		in[s] = true
	}
	k := p.keys[p.elems[comp[0]].key]
	b.c.Key = k
	var vals []any
	for _, s := range comp {
		vals = append(vals, p.elemValue(s))
	}
	b.say("The versions %s of %s are ordered in a cycle:", fv(vals), k)
	for _, e := range wfr {
		if in[e.from] && in[e.to] {
			b.say("%s read %s = %s and then wrote %s = %s, so %s came before %s;", b.intro(e.by), k, fv(p.elemValue(e.from)), k, fv(p.elemValue(e.to)), fv(p.elemValue(e.from)), fv(p.elemValue(e.to)))
		}
	}
	b.say("a version order must be a total order, and this one cannot be (cyclic-versions).")
	b.done()
}

// regEdges infers ww, wr and rw edges.
func regEdges(p *parsed, ix *regIndex, vs []versionEdge, edges []edge) []edge {
	// wr: the writer of a value to its external readers. A read of an
	// intermediate or failed write gives no edge (G1b, G1a).
	for ti := range p.txns {
		t := &p.txns[ti]
		if t.st != stOK {
			continue
		}
		for i := t.m0; i < t.m1; i++ {
			m := &p.mops[i]
			if !ix.extRead[i] || m.flags&mopNil != 0 {
				continue
			}
			e := &p.elems[m.slot]
			if w := e.writer; w != int32(ti) && p.committable(w) && ix.extWrite[p.wmop(e)] {
				edges = append(edges, edge{w, int32(ti), relWR})
			}
		}
	}
	for _, v := range vs {
		w2 := p.extWriter(ix, v.to)
		if w2 < 0 {
			continue
		}
		var readers []int32
		if v.from < 0 {
			readers = ix.nilReaders[ix.nroff[v.key]:ix.nroff[v.key+1]]
		} else {
			readers = ix.readers[ix.roff[v.from]:ix.roff[v.from+1]]
			if w1 := p.extWriter(ix, v.from); w1 >= 0 && w1 != w2 {
				edges = append(edges, edge{w1, w2, relWW})
			}
		}
		for _, r := range readers {
			if r != w2 {
				edges = append(edges, edge{r, w2, relRW})
			}
		}
	}
	return edges
}

// extWriter is the committable txn whose external write is slot s, or -1.
func (p *parsed) extWriter(ix *regIndex, s int32) int32 {
	e := &p.elems[s]
	if !p.committable(e.writer) || !ix.extWrite[p.wmop(e)] {
		return -1
	}
	return e.writer
}

// regAnomalies finds the rw-register anomalies that are not cycles.
func regAnomalies(p *parsed, ix *regIndex, rep *reporter) {
	var lost []lostCandidate
	for ti := range p.txns {
		t := &p.txns[ti]
		if t.st != stOK {
			continue
		}
		T := int32(ti)
		for i := t.m0; i < t.m1; i++ {
			m := &p.mops[i]
			if m.f != fRead || m.flags&mopNil != 0 {
				continue
			}
			e := &p.elems[m.slot]
			if e.writer < 0 || e.writer == T {
				continue
			}
			mi := i
			switch {
			case p.txns[e.writer].st == stFail:
				rep.add("G1a", func(b *caseBuilder) {
					k := p.keys[m.key]
					b.c.Key = k
					b.say("%s read %s = %s.", b.intro(T), k, fv(p.elemValue(m.slot)))
					b.say("%s wrote %s = %s, and failed: its writes must never be visible.", b.intro(e.writer), k, fv(p.elemValue(m.slot)))
					b.say("So %s read state written by an aborted transaction (G1a, aborted read).", b.name(T))
					b.done()
				})
			case e.flags&elIntermediate != 0:
				rep.add("G1b", func(b *caseBuilder) { explainG1b(b, T, mi) })
			}
		}
		regInternal(p, rep, T)
		regFutureRead(p, rep, T)
		lost = lostCandidates(p, T, lost)
	}
	reportLostUpdates(p, rep, lost)
}

// regInternal reports a read that disagrees with the transaction's own
// previous read or write of the key.
func regInternal(p *parsed, rep *reporter, T int32) {
	t := &p.txns[T]
	for j := t.m0 + 1; j < t.m1; j++ {
		m := &p.mops[j]
		if m.f != fRead {
			continue
		}
		prev := int32(-1)
		for i := j - 1; i >= t.m0; i-- {
			if p.mops[i].key == m.key {
				prev = i
				break
			}
		}
		if prev < 0 {
			continue
		}
		o := &p.mops[prev]
		same := (o.flags&mopNil != 0) == (m.flags&mopNil != 0) && (m.flags&mopNil != 0 || o.slot == m.slot)
		if same {
			continue
		}
		jj := j
		rep.add("internal", func(b *caseBuilder) {
			k := p.keys[m.key]
			b.c.Key = k
			n := b.intro(T)
			verb := "read"
			if o.f == fWrite {
				verb = "wrote"
			}
			b.say("%s %s %s = %s, so its next read of %s should return %s.", n, verb, k, fv(p.mopValue(T, prev)), k, fv(p.mopValue(T, prev)))
			b.say("But it read %s = %s: the transaction contradicts its own earlier operations (internal).", k, fv(p.mopValue(T, jj)))
			b.done()
		})
		return
	}
}

// regFutureRead reports a read of a value the transaction itself writes
// only later.
func regFutureRead(p *parsed, rep *reporter, T int32) {
	t := &p.txns[T]
	for j := t.m0; j < t.m1; j++ {
		m := &p.mops[j]
		if m.f != fRead || m.flags&mopNil != 0 {
			continue
		}
		e := &p.elems[m.slot]
		if e.writer == T && p.wmop(e) > j {
			w := p.wmop(e)
			rep.add("future-read", func(b *caseBuilder) {
				k := p.keys[m.key]
				b.c.Key = k
				n := b.intro(T)
				b.say("%s read %s = %s, but writes %s = %s only later, in micro-op %d: it read its own future write (future-read).", n, k, fv(p.elemValue(m.slot)), k, fv(p.elemValue(m.slot)), w-t.m0)
				b.done()
			})
			return
		}
	}
}
