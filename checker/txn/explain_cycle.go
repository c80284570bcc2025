package txn

import (
	"fmt"
	"strings"
)

// Explaining a cycle: why each transaction precedes the next, from the
// workload's data (which element, which read), and what class of cycle it
// is.

// cycleMeaning describes each class. Every anti-dependency here is on an
// item (a key), never a predicate, hence Elle's -item names.
var cycleMeaning = map[string]string{
	"G0":                 "a cycle of write-write dependencies only (G0, dirty write)",
	"G1c":                "a cycle of write-write and write-read dependencies (G1c, circular information flow)",
	"G-single-item":      "a cycle with exactly one read-write anti-dependency, on an item (G-single-item, read skew)",
	"G-nonadjacent-item": "a cycle with several read-write anti-dependencies on items, no two adjacent (G-nonadjacent-item)",
	"G2-item":            "a cycle with two or more read-write anti-dependencies on items, some adjacent (G2-item, e.g. write skew)",
}

func describeCycleType(typ string) string {
	base, suffix := typ, ""
	for _, s := range []string{"-process", "-realtime"} {
		if strings.HasSuffix(typ, s) {
			base, suffix = strings.TrimSuffix(typ, s), s
		}
	}
	m := cycleMeaning[base]
	switch suffix {
	case "-process":
		m = strings.Replace(m, "(", "closed by process order (", 1)
		m = strings.Replace(m, base, typ, 1)
	case "-realtime":
		m = strings.Replace(m, "(", "closed by real-time order (", 1)
		m = strings.Replace(m, base, typ, 1)
	}
	return m
}

// edgeExplainer says why one transaction precedes another on one kind of
// edge, from the workload's data.
type edgeExplainer interface {
	explainData(b *caseBuilder, st step, out *Step) bool
}

func explainCycle(b *caseBuilder, cyc []step, typ string, ex edgeExplainer) {
	p := b.p
	// Start at the transaction that happened first: the story reads in
	// history order as far as it can.
	first := 0
	for i, st := range cyc {
		if p.txns[st.from].inv < p.txns[cyc[first].from].inv {
			first = i
		}
	}
	cyc = append(append([]step(nil), cyc[first:]...), cyc[:first]...)
	for _, st := range cyc {
		b.name(st.from)
	}
	intro := make(map[int32]bool)
	who := func(ti int32) string {
		if intro[ti] {
			return b.names[ti]
		}
		intro[ti] = true
		t := &p.txns[ti]
		s := fmt.Sprintf("%s (index %d, process %d", b.names[ti], p.txnIndex(ti), t.proc)
		if t.st == stInfo {
			s += ", outcome unknown"
		}
		return s + ")"
	}
	var order []string
	for _, st := range cyc {
		out := Step{From: b.names[st.from], To: b.names[st.to], Type: relNames[st.rel]}
		a, c := who(st.from), who(st.to)
		switch st.rel {
		case relProc:
			proc := int(p.txns[st.from].proc)
			out.Process = &proc
			out.Text = fmt.Sprintf("%s and %s ran on process %d, %s first, so %s < %s (process).", a, c, proc, b.names[st.from], b.names[st.from], b.names[st.to])
		case relRT:
			from, to := p.txnIndex(st.from), p.h[p.txns[st.to].inv].Index
			out.FromIndex, out.ToIndex = &from, &to
			out.Text = fmt.Sprintf("%s completed before %s was invoked (at index %d), so %s < %s (realtime).", a, c, to, b.names[st.from], b.names[st.to])
			if intro[st.from] && a == b.names[st.from] {
				out.Text = fmt.Sprintf("%s completed (at index %d) before %s was invoked (at index %d), so %s < %s (realtime).", a, from, c, to, b.names[st.from], b.names[st.to])
			}
		default:
			// The explainer refers to the transactions by the names just
			// introduced.
			b.names[st.from], b.names[st.to] = a, c
			if !ex.explainData(b, st, &out) {
				out.Text = fmt.Sprintf("%s < %s (%s).", a, c, relNames[st.rel])
			}
			b.names[st.from], b.names[st.to] = out.From, out.To
		}
		b.c.Steps = append(b.c.Steps, out)
		b.say("%s", out.Text)
		order = append(order, out.From)
	}
	order = append(order, b.names[cyc[0].from])
	b.say("So %s: %s, which no serial order allows.", strings.Join(order, " < "), describeCycleType(typ))
	b.done()
}

// appendExplainer explains list-append edges.
type appendExplainer struct {
	p *parsed
}

func (e appendExplainer) explainData(b *caseBuilder, st step, out *Step) bool {
	p := e.p
	A, B := b.names[st.from], b.names[st.to]
	an, bn := out.From, out.To
	tb := &p.txns[st.to]
	switch st.rel {
	case relWW:
		for mi := tb.m0; mi < tb.m1; mi++ {
			m := &p.mops[mi]
			if m.f != fAppend {
				continue
			}
			pred, _ := p.appendPred(m.slot)
			if pred < 0 || p.elems[pred].writer != st.from {
				continue
			}
			k := p.keys[m.key]
			out.Key, out.Value, out.Next = k, p.elemValue(pred), p.elemValue(m.slot)
			if p.elems[m.slot].pos >= 0 {
				out.Text = fmt.Sprintf("%s appended %s to %s, and %s appended %s right after it, so %s < %s (ww).", A, fv(out.Value), k, B, fv(out.Next), an, bn)
			} else {
				out.Text = fmt.Sprintf("%s appended %s to %s, the last element any read of %s shows; %s appended %s, which no read shows, so it came later: %s < %s (ww).", A, fv(out.Value), k, k, B, fv(out.Next), an, bn)
			}
			return true
		}
	case relWR:
		if tb.st != stOK {
			return false
		}
		for mi := tb.m0; mi < tb.m1; mi++ {
			m := &p.mops[mi]
			if m.f != fRead || m.slot < 0 || p.elems[m.slot].writer != st.from {
				continue
			}
			k := p.keys[m.key]
			out.Key, out.Value, out.Next = k, p.elemValue(m.slot), p.readList(st.to, mi)
			out.Text = fmt.Sprintf("%s appended %s to %s, and %s read %s = %s, which ends with it, so %s < %s (wr).", A, fv(out.Value), k, B, k, fv(out.Next), an, bn)
			return true
		}
	case relRW:
		ta := &p.txns[st.from]
		for mi := tb.m0; mi < tb.m1; mi++ {
			m := &p.mops[mi]
			if m.f != fAppend {
				continue
			}
			pred, state := p.appendPred(m.slot)
			for ri := ta.m0; ri < ta.m1; ri++ {
				r := &p.mops[ri]
				if r.f != fRead || r.key != m.key || ta.st != stOK || p.readState(r) != state {
					continue
				}
				k := p.keys[m.key]
				list := p.readList(st.from, ri)
				out.Key, out.Value, out.Next = k, list, p.elemValue(m.slot)
				switch {
				case p.elems[m.slot].pos < 0:
					out.Text = fmt.Sprintf("%s read %s = %s, the longest state of %s anyone read; %s appended %s, which no read shows, so it came later and %s did not see it: %s < %s (rw).", A, k, fv(list), k, B, fv(out.Next), an, an, bn)
				case pred < 0:
					out.Text = fmt.Sprintf("%s read %s = %s, before anything was appended; %s appended %s, the first element of %s, so %s did not see it: %s < %s (rw).", A, k, fv(list), B, fv(out.Next), k, an, an, bn)
				default:
					out.Text = fmt.Sprintf("%s read %s = %s, without %s; %s appended %s right after %s, so %s did not see it: %s < %s (rw).", A, k, fv(list), fv(out.Next), B, fv(out.Next), fv(p.elemValue(pred)), an, an, bn)
				}
				return true
			}
		}
	}
	return false
}

// regExplainer explains rw-register edges.
type regExplainer struct {
	p   *parsed
	ix  *regIndex
	wfr map[[2]int32]bool // version edges from writes-follow-reads
}

func (e regExplainer) explainData(b *caseBuilder, st step, out *Step) bool {
	p, ix := e.p, e.ix
	A, B := b.names[st.from], b.names[st.to]
	an, bn := out.From, out.To
	ta, tb := &p.txns[st.from], &p.txns[st.to]
	for bi := tb.m0; bi < tb.m1; bi++ {
		bm := &p.mops[bi]
		for ai := ta.m0; ai < ta.m1; ai++ {
			am := &p.mops[ai]
			if am.key != bm.key {
				continue
			}
			k := p.keys[am.key]
			switch st.rel {
			case relWR:
				if ix.extWrite[ai] && ix.extRead[bi] && bm.flags&mopNil == 0 && bm.slot == am.slot {
					out.Key, out.Value, out.Next = k, p.elemValue(am.slot), p.elemValue(bm.slot)
					out.Text = fmt.Sprintf("%s wrote %s = %s, and %s read %s = %s, so %s < %s (wr).", A, k, fv(out.Value), B, k, fv(out.Next), an, bn)
					return true
				}
			case relWW:
				if ix.extWrite[ai] && ix.extWrite[bi] && e.wfr[[2]int32{am.slot, bm.slot}] {
					out.Key, out.Value, out.Next = k, p.elemValue(am.slot), p.elemValue(bm.slot)
					out.Text = fmt.Sprintf("%s wrote %s = %s; %s read %s = %s and then wrote %s = %s, so its version came later: %s < %s (ww).", A, k, fv(out.Value), B, k, fv(out.Value), k, fv(out.Next), an, bn)
					return true
				}
			case relRW:
				if !ix.extRead[ai] || !ix.extWrite[bi] {
					continue
				}
				if am.flags&mopNil != 0 {
					out.Key, out.Value, out.Next = k, nil, p.elemValue(bm.slot)
					out.Text = fmt.Sprintf("%s read %s = nil, the initial state; %s wrote %s = %s, a later version, so %s did not see it: %s < %s (rw).", A, k, B, k, fv(out.Next), an, an, bn)
					return true
				}
				if e.wfr[[2]int32{am.slot, bm.slot}] {
					out.Key, out.Value, out.Next = k, p.elemValue(am.slot), p.elemValue(bm.slot)
					out.Text = fmt.Sprintf("%s read %s = %s; %s read %s = %s too and then wrote %s = %s over it, so %s did not see that write: %s < %s (rw).", A, k, fv(out.Value), B, k, fv(out.Value), k, fv(out.Next), an, an, bn)
					return true
				}
			}
		}
	}
	return false
}
