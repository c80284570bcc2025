package txn

import (
	"slices"
)

// List-append inference. Every append is of a value unique to its key, and
// a read returns the whole list, so every read reveals a prefix of the key's
// version order, and the longest read is the order as far as anyone saw it
// (parse.go builds it). From the order:
//
//   - ww: the writer of the element before an append precedes the appender;
//   - wr: the writer of a read's last element precedes the reader;
//   - rw: a reader of the state just before an append precedes the appender.
//
// An append nobody read comes after every element anyone read, so its
// predecessor is the last element of the longest read. Reads that are not a
// prefix of the longest read are incompatible-order; they still give a wr
// edge from the writer of their last element, and rw edges as if they read
// the state ending in that element, as Elle does.

// appendIndex is what the edge and anomaly passes look things up in.
type appendIndex struct {
	// readers of each key's states: for key k, readers[roff[k]:roff[k+1]]
	// are (state<<32 | txn), sorted; state s is the list of the first s
	// elements of the order.
	roff    []int32
	readers []uint64
	// firstFailed is, per key, the first position of the order whose
	// element a failed transaction appended; -1 if none.
	firstFailed []int32
}

// readState is the state a committed read observed: its length in the
// order, or -1 if it cannot be placed.
func (p *parsed) readState(m *mop) int32 {
	if m.flags&mopIncompat == 0 {
		return m.n
	}
	if m.slot < 0 {
		return 0
	}
	if pos := p.elems[m.slot].pos; pos >= 0 {
		return pos + 1
	}
	return -1
}

func buildAppendIndex(p *parsed) *appendIndex {
	nk := len(p.keys)
	ix := &appendIndex{roff: make([]int32, nk+1), firstFailed: make([]int32, nk)}
	for ti := range p.txns {
		t := &p.txns[ti]
		if t.st != stOK {
			continue
		}
		for mi := t.m0; mi < t.m1; mi++ {
			if m := &p.mops[mi]; m.f == fRead && p.readState(m) >= 0 {
				ix.roff[m.key+1]++
			}
		}
	}
	for k := 1; k <= nk; k++ {
		ix.roff[k] += ix.roff[k-1]
	}
	ix.readers = make([]uint64, ix.roff[nk])
	fill := slices.Clone(ix.roff[:nk])
	for ti := range p.txns {
		t := &p.txns[ti]
		if t.st != stOK {
			continue
		}
		for mi := t.m0; mi < t.m1; mi++ {
			m := &p.mops[mi]
			if m.f != fRead {
				continue
			}
			if s := p.readState(m); s >= 0 {
				ix.readers[fill[m.key]] = uint64(s)<<32 | uint64(ti)
				fill[m.key]++
			}
		}
	}
	for k := 0; k < nk; k++ {
		seg := ix.readers[ix.roff[k]:ix.roff[k+1]]
		if !slices.IsSorted(seg) {
			slices.Sort(seg)
		}
	}
	for k := range nk {
		ix.firstFailed[k] = -1
		for i, s := range p.orders[k].slots {
			if w := p.elems[s].writer; w >= 0 && p.txns[w].st == stFail {
				ix.firstFailed[k] = int32(i)
				break
			}
		}
	}
	return ix
}

// readersOf are the transactions that read state s of key k.
func (ix *appendIndex) readersOf(k, s int32) []uint64 {
	seg := ix.readers[ix.roff[k]:ix.roff[k+1]]
	lo, _ := slices.BinarySearch(seg, uint64(s)<<32)
	hi := lo
	for hi < len(seg) && int32(seg[hi]>>32) == s {
		hi++
	}
	return seg[lo:hi]
}

// appendPred is the element just before the append of slot s in its key's
// order (or the last element read, if nobody read s), -1 if none; and the
// state (the number of elements before it).
func (p *parsed) appendPred(s int32) (pred int32, state int32) {
	e := &p.elems[s]
	o := &p.orders[e.key]
	state = e.pos
	if state < 0 {
		state = int32(len(o.slots))
	}
	if state == 0 {
		return -1, 0
	}
	return o.slots[state-1], state
}

// committable: the transaction may have committed (ok or info).
func (p *parsed) committable(ti int32) bool { return ti >= 0 && p.txns[ti].st != stFail }

// appendEdges produces the ww, wr and rw in-edges of each transaction.
func appendEdges(p *parsed, ix *appendIndex) inEdges {
	return func(T int32, add func(int32, uint8)) {
		t := &p.txns[T]
		if t.st == stFail {
			return
		}
		for mi := t.m0; mi < t.m1; mi++ {
			m := &p.mops[mi]
			switch m.f {
			case fAppend:
				pred, state := p.appendPred(m.slot)
				if pred >= 0 {
					if w := p.elems[pred].writer; w != T && p.committable(w) {
						add(w, relWW)
					}
				}
				for _, r := range ix.readersOf(m.key, state) {
					if rt := int32(uint32(r)); rt != T {
						add(rt, relRW)
					}
				}
			case fRead:
				if t.st != stOK || m.slot < 0 {
					continue
				}
				if w := p.elems[m.slot].writer; w != T && p.committable(w) {
					add(w, relWR)
				}
			}
		}
	}
}

// appendAnomalies finds the list-append anomalies that are not cycles.
func appendAnomalies(p *parsed, ix *appendIndex, rep *reporter) {
	appendIncompatible(p, rep)
	var lost []lostCandidate
	for ti := range p.txns {
		t := &p.txns[ti]
		if t.st != stOK {
			continue
		}
		T := int32(ti)
		for mi := t.m0; mi < t.m1; mi++ {
			m := &p.mops[mi]
			if m.f != fRead {
				continue
			}
			appendG1a(p, ix, rep, T, mi)
			if m.slot >= 0 {
				e := &p.elems[m.slot]
				if e.flags&elIntermediate != 0 && e.writer != T && p.committable(e.writer) {
					rep.add("G1b", func(b *caseBuilder) { explainG1b(b, T, mi) })
				}
			}
			appendDuplicates(p, rep, T, mi)
		}
		appendInternal(p, rep, T)
		appendFutureRead(p, rep, T)
		lost = lostCandidates(p, T, lost)
	}
	appendDirtyUpdates(p, rep)
	reportLostUpdates(p, rep, lost)
}

// appendIncompatible reports, per key, a read that is not a prefix of the
// longest read.
func appendIncompatible(p *parsed, rep *reporter) {
	if len(p.incompatKeys) == 0 {
		return
	}
	first := make(map[int32][2]int32, len(p.incompatKeys))
	for ti := range p.txns {
		t := &p.txns[ti]
		if t.st != stOK {
			continue
		}
		for mi := t.m0; mi < t.m1; mi++ {
			m := &p.mops[mi]
			if m.f == fRead && m.flags&mopIncompat != 0 {
				if _, ok := first[m.key]; !ok {
					first[m.key] = [2]int32{int32(ti), mi}
				}
			}
		}
	}
	keys := make([]int32, 0, len(first))
	for k := range first {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		o := &p.orders[k]
		r := first[k]
		rep.add("incompatible-order", func(b *caseBuilder) {
			b.c.Key = p.keys[k]
			a := b.intro(o.lt)
			c := b.intro(r[0])
			b.say("%s read %s = %s, the longest read of %s.", a, p.keys[k], fv(p.readList(o.lt, o.lm)), p.keys[k])
			b.say("%s read %s = %s, which is not a prefix of it.", c, p.keys[k], fv(p.readList(r[0], r[1])))
			b.say("No single order of appends to %s can produce both: the reads come from different histories of %s (incompatible-order).", p.keys[k], p.keys[k])
			b.done()
		})
	}
}

// appendG1a reports a committed read that observed an element appended by
// a failed transaction.
func appendG1a(p *parsed, ix *appendIndex, rep *reporter, T, mi int32) {
	m := &p.mops[mi]
	var bad int32 = -1
	if m.flags&mopIncompat == 0 {
		if f := ix.firstFailed[m.key]; f >= 0 && f < m.n {
			bad = p.orders[m.key].slots[f]
		}
	} else {
		for _, x := range p.readList(T, mi) {
			c, err := p.codes.code(x)
			if err != nil {
				continue
			}
			if s, ok := p.lookup(m.key, c); ok {
				if w := p.elems[s].writer; w >= 0 && p.txns[w].st == stFail {
					bad = s
					break
				}
			}
		}
	}
	if bad < 0 {
		return
	}
	rep.add("G1a", func(b *caseBuilder) {
		k := p.keys[m.key]
		b.c.Key = k
		b.say("%s read %s = %s.", b.intro(T), k, fv(p.readList(T, mi)))
		b.say("%s appended %s to %s, and failed: its writes must never be visible.", b.intro(p.elems[bad].writer), fv(p.elemValue(bad)), k)
		b.say("So %s read state written by an aborted transaction (G1a, aborted read).", b.name(T))
		b.done()
	})
}

func explainG1b(b *caseBuilder, T, mi int32) {
	p := b.p
	m := &p.mops[mi]
	e := &p.elems[m.slot]
	k := p.keys[m.key]
	b.c.Key = k
	r := b.intro(T)
	w := b.intro(e.writer)
	rn, wn := b.name(T), b.name(e.writer)
	var later []any
	wt := &p.txns[e.writer]
	for j := p.wmop(e) + 1; j < wt.m1; j++ {
		if o := &p.mops[j]; o.f != fRead && o.key == m.key {
			later = append(later, p.elemValue(o.slot))
		}
	}
	v := fv(p.elemValue(m.slot))
	if p.workload == "append" {
		b.say("%s read %s = %s, ending in %s.", r, k, fv(p.mopValue(T, mi)), v)
		b.say("%s appended %s to %s but then appended %s to %s as well, so %s is not its final write.", w, v, k, fvs(later), k, v)
	} else {
		b.say("%s read %s = %s.", r, k, v)
		b.say("%s wrote %s = %s but then wrote %s = %s, so %s is not its final write.", w, k, v, k, fvs(later), v)
	}
	b.say("So %s read an intermediate state of %s (G1b, intermediate read).", rn, wn)
	b.done()
}

// appendDuplicates reports a read in which some element appears twice.
func appendDuplicates(p *parsed, rep *reporter, T, mi int32) {
	m := &p.mops[mi]
	o := &p.orders[m.key]
	dup := false
	if m.flags&mopIncompat == 0 {
		dup = o.dupAt >= 0 && o.dupAt < m.n
	} else {
		seen := map[any]bool{}
		for _, x := range p.readList(T, mi) {
			if sameScalar(x, x) && seen[x] {
				dup = true
				break
			}
			seen[x] = true
		}
	}
	if !dup {
		return
	}
	rep.add("duplicate-elements", func(b *caseBuilder) {
		k := p.keys[m.key]
		b.c.Key = k
		list := p.readList(T, mi)
		count := map[string]int{}
		var dups []any
		for _, x := range list {
			count[fv(x)]++
			if count[fv(x)] == 2 {
				dups = append(dups, x)
			}
		}
		verb := "appears"
		if len(dups) > 1 {
			verb = "each appear"
		}
		b.say("%s read %s = %s, in which %s %s more than once.", b.intro(T), k, fv(list), fvs(dups), verb)
		b.say("Every value is appended once, so a list can hold it at most once (duplicate-elements).")
		b.done()
	})
}

// appendInternal reports a read that contradicts the transaction's own
// earlier read or appends of the key (Cerone et al.'s INT).
func appendInternal(p *parsed, rep *reporter, T int32) {
	if prev, appends, j, bad := internalCase(p, T); bad {
		rep.add("internal", func(b *caseBuilder) { explainAppendInternal(b, T, prev, appends, j) })
	}
}

// internalCase finds T's first read j that disagrees with its earlier read
// prev of the key (-1 if none) followed by its appends since.
func internalCase(p *parsed, T int32) (prev int32, appends []int32, j int32, bad bool) {
	t := &p.txns[T]
	for j := t.m0 + 1; j < t.m1; j++ {
		m := &p.mops[j]
		if m.f != fRead {
			continue
		}
		// Walk back to the previous read of the key, collecting appends.
		prev := int32(-1)
		var appends []int32
		for i := j - 1; i >= t.m0; i-- {
			o := &p.mops[i]
			if o.key != m.key {
				continue
			}
			if o.f == fRead {
				prev = i
				break
			}
			appends = append(appends, i)
		}
		if prev < 0 && len(appends) == 0 {
			continue
		}
		slices.Reverse(appends)
		if internalOK(p, T, prev, appends, j) {
			continue
		}
		return prev, appends, j, true
	}
	return -1, nil, -1, false
}

// internalOK: the read j agrees with the earlier read prev (if any) followed
// by the appends.
func internalOK(p *parsed, T, prev int32, appends []int32, j int32) bool {
	m := &p.mops[j]
	fast := m.flags&mopIncompat == 0 && p.orders[m.key].dupAt < 0 &&
		(prev < 0 || p.mops[prev].flags&mopIncompat == 0)
	if fast {
		// Both reads are prefixes of the order: compare positions.
		base := m.n - int32(len(appends))
		if prev >= 0 && p.mops[prev].n != base {
			return false
		}
		if base < 0 {
			return false
		}
		for i, a := range appends {
			if p.elems[p.mops[a].slot].pos != base+int32(i) {
				return false
			}
		}
		return true
	}
	got := p.readList(T, j)
	want := expectedInternal(p, T, prev, appends)
	if prev >= 0 {
		if len(got) != len(want) {
			return false
		}
	} else if len(got) < len(want) {
		return false
	}
	off := len(got) - len(want)
	for i := range want {
		if !sameScalar(got[off+i], want[i]) {
			return false
		}
	}
	return true
}

// expectedInternal is what the read should end with: the earlier read's
// list (if any) and the appended values.
func expectedInternal(p *parsed, T, prev int32, appends []int32) []any {
	var want []any
	if prev >= 0 {
		want = append(want, p.readList(T, prev)...)
	}
	for _, a := range appends {
		want = append(want, p.elemValue(p.mops[a].slot))
	}
	return want
}

func explainAppendInternal(b *caseBuilder, T, prev int32, appends []int32, j int32) {
	p := b.p
	m := &p.mops[j]
	k := p.keys[m.key]
	b.c.Key = k
	n := b.intro(T)
	var vals []any
	for _, a := range appends {
		vals = append(vals, p.elemValue(p.mops[a].slot))
	}
	want := expectedInternal(p, T, prev, appends)
	switch {
	case prev >= 0 && len(appends) > 0:
		b.say("%s read %s = %s, then appended %s, so its next read of %s should be %s.", n, k, fv(p.readList(T, prev)), fvs(vals), k, fv(want))
	case prev >= 0:
		b.say("%s read %s = %s, so its next read of %s should be the same.", n, k, fv(p.readList(T, prev)), k)
	default:
		b.say("%s appended %s to %s, so its next read of %s should end with %s.", n, fvs(vals), k, k, fv(want))
	}
	b.say("But it read %s = %s: the transaction contradicts its own earlier operations (internal).", k, fv(p.readList(T, j)))
	b.done()
}

// appendFutureRead reports a read that contains a value the same
// transaction appends only later.
func appendFutureRead(p *parsed, rep *reporter, T int32) {
	j, i, bad := futureReadCase(p, T)
	if !bad {
		return
	}
	t := &p.txns[T]
	r, a := &p.mops[j], &p.mops[i]
	rep.add("future-read", func(b *caseBuilder) {
		k := p.keys[r.key]
		b.c.Key = k
		n := b.intro(T)
		b.say("%s read %s = %s, which contains %s,", n, k, fv(p.readList(T, j)), fv(p.elemValue(a.slot)))
		b.say("but %s appends %s to %s only later, in micro-op %d: it read its own future write (future-read).", b.name(T), fv(p.elemValue(a.slot)), k, i-t.m0)
		b.done()
	})
}

// futureReadCase finds T's first read j that contains the value of its
// later append i.
func futureReadCase(p *parsed, T int32) (j, i int32, bad bool) {
	t := &p.txns[T]
	for j := t.m0; j < t.m1; j++ {
		r := &p.mops[j]
		if r.f != fRead {
			continue
		}
		for i := j + 1; i < t.m1; i++ {
			a := &p.mops[i]
			if a.f != fAppend || a.key != r.key {
				continue
			}
			seen := false
			if r.flags&mopIncompat == 0 {
				pos := p.elems[a.slot].pos
				seen = pos >= 0 && pos < r.n
			} else {
				v := p.elemValue(a.slot)
				for _, x := range p.readList(T, j) {
					seen = seen || sameScalar(x, v)
				}
			}
			if seen {
				return j, i, true
			}
		}
	}
	return -1, -1, false
}

// lostCandidate is a committed transaction that read key and then wrote
// it: the state it read identifies what it updated.
type lostCandidate struct {
	key   int32
	state int64 // what it read: a slot (and length) or nil
	txn   int32
	rmop  int32
}

// lostCandidates adds the transaction's read-then-write keys.
func lostCandidates(p *parsed, T int32, out []lostCandidate) []lostCandidate {
	t := &p.txns[T]
	for i := t.m0; i < t.m1; i++ {
		m := &p.mops[i]
		if m.f != fRead || !readThenWrites(p, T, i) {
			continue
		}
		state := int64(-1)
		if m.flags&mopNil == 0 {
			state = int64(m.slot)<<32 | int64(uint32(m.n))
		}
		out = append(out, lostCandidate{m.key, state, T, i})
	}
	return out
}

// readThenWrites: read i is T's first micro-op on its key, and T writes
// the key after it.
func readThenWrites(p *parsed, T, i int32) bool {
	t := &p.txns[T]
	key := p.mops[i].key
	writes := false
	for j := t.m0; j < t.m1; j++ {
		o := &p.mops[j]
		if o.key != key {
			continue
		}
		if j < i {
			return false
		}
		if o.f != fRead {
			writes = true
		}
	}
	return writes
}

// reportLostUpdates reports groups of two or more committed transactions
// that read the same state of a key and both wrote it: one of the updates
// was lost.
func reportLostUpdates(p *parsed, rep *reporter, cands []lostCandidate) {
	slices.SortFunc(cands, func(a, b lostCandidate) int {
		if a.key != b.key {
			return int(a.key - b.key)
		}
		if a.state != b.state {
			if a.state < b.state {
				return -1
			}
			return 1
		}
		return int(a.txn - b.txn)
	})
	for i := 0; i < len(cands); {
		j := i + 1
		for j < len(cands) && cands[j].key == cands[i].key && cands[j].state == cands[i].state {
			j++
		}
		if j-i >= 2 {
			group := cands[i:j]
			rep.add("lost-update", func(b *caseBuilder) {
				k := p.keys[group[0].key]
				b.c.Key = k
				read := fv(p.mopValue(group[0].txn, group[0].rmop))
				for _, c := range group {
					n := b.intro(c.txn)
					var wrote []any
					t := &p.txns[c.txn]
					for m := t.m0; m < t.m1; m++ {
						if o := &p.mops[m]; o.f != fRead && o.key == c.key {
							wrote = append(wrote, p.elemValue(o.slot))
						}
					}
					verb := "wrote"
					if p.workload == "append" {
						verb = "appended"
					}
					w := fv(wrote)
					if len(wrote) == 1 {
						w = fv(wrote[0])
					}
					b.say("%s read %s = %s and then %s %s.", n, k, read, verb, w)
				}
				b.say("All committed, each having read the same state of %s: each update was made without seeing the others, so all but one were lost (lost-update).", k)
				b.done()
			})
		}
		i = j
	}
}

// appendDirtyUpdates reports committed appends placed, in a key's order,
// on top of an element appended by a failed transaction.
func appendDirtyUpdates(p *parsed, rep *reporter) {
	for k := range p.orders {
		o := &p.orders[k]
		var prevSt uint8 = stOK
		var run []int32 // the failed elements since the last committed one
		for _, s := range o.slots {
			w := p.elems[s].writer
			st := stInfo
			if w >= 0 {
				st = p.txns[w].st
			}
			switch {
			case st == stFail:
				if prevSt != stFail {
					run = run[:0]
				}
				run = append(run, s)
				prevSt = stFail
			case st == stOK && prevSt == stFail:
				failed := slices.Clone(run)
				top := s
				rep.add("dirty-update", func(b *caseBuilder) {
					key := p.keys[k]
					b.c.Key = key
					var fails []any
					for _, f := range failed {
						fails = append(fails, p.elemValue(f))
					}
					fw := b.intro(p.elems[failed[0]].writer)
					b.say("In the order of %s, %s was appended by %s, which failed;", key, fvs(fails), fw)
					b.say("yet %s appended %s right after it and committed, writing on top of aborted state (dirty-update).", b.intro(p.elems[top].writer), fv(p.elemValue(top)))
					b.done()
				})
				prevSt = stOK
			case st == stOK:
				prevSt = stOK
			}
			// info leaves the state as it was: it may or may not have
			// committed.
		}
	}
}
