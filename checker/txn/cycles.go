package txn

import (
	"context"
	"errors"
)

// Cycle search. Within each strongly connected component of the dependency
// graph, for each cycle anomaly in Elle's order (G0, G1c, G-single-item,
// G-nonadjacent-item, G2-item, then their -process and then their
// -realtime variants: Elle's anomaly-depth order, in which an anomaly comes
// after those that imply it), skipping any implied by one already found
// there and any the check was not asked about, we look for a shortest cycle
// of that class.
//
// Every dependency this checker infers is on an item (a key), never on a
// predicate, so every cycle with an anti-dependency is of Elle's -item
// family: G-single-item, G-nonadjacent-item and G2-item. Elle's G-single,
// G-nonadjacent and G2 proper need a predicate anti-dependency (rwp); they
// are never reported here, though asking for them (Options.Anomalies)
// searches for the -item classes that imply them.
//
// A class is a set of usable edge kinds and constraints on the count and
// adjacency of rw edges, on the presence of a wr edge and of a process or
// real-time edge. We first restrict the component to the usable kinds and
// take its sub-components: a cycle of the class lives inside one. Then we
// pick an anchor edge of the kind the class needs (an rw edge for the rw
// classes, a process or real-time edge for the variants, a wr edge for
// G1c) and run a breadth-first search from the anchor's head back to its
// tail over (transaction, constraint state) pairs. The state is a few bits
// (the last edge was rw, some rw seen, two rw adjacent, a wr seen, an
// order edge seen), so the search is linear in the component's size, and
// the first path that closes the cycle in an accepting state is the
// shortest through that anchor. Small components try every anchor and keep
// the shortest cycle; large ones stop soon after the first.
//
// Only simple cycles are reported, and each is classified again from its
// edges (as Elle's explainer does) and dropped if it is not of the class
// searched for.

const (
	rwNone   uint8 = iota // no rw edges
	rwSingle              // exactly one rw edge
	rwNonadj              // two or more, none adjacent
	rwAdj                 // two or more, some adjacent
)

type cycleSpec struct {
	name    string
	data    uint8 // usable data-dependency kinds
	rw      uint8
	needWR  bool
	variant uint8 // 0, relProc or relRT: must use such an edge
}

var cycleSpecs = func() []cycleSpec {
	base := []cycleSpec{
		{name: "G0", data: relWW},
		{name: "G1c", data: relWW | relWR, needWR: true},
		{name: "G-single-item", data: relData, rw: rwSingle},
		{name: "G-nonadjacent-item", data: relData, rw: rwNonadj},
		{name: "G2-item", data: relData, rw: rwAdj},
	}
	out := append([]cycleSpec(nil), base...)
	for _, v := range []struct {
		rel    uint8
		suffix string
	}{{relProc, "-process"}, {relRT, "-realtime"}} {
		for _, s := range base {
			s.name += v.suffix
			s.variant = v.rel
			out = append(out, s)
		}
	}
	return out
}()

// orderMask is the order edges a spec may use.
func (s *cycleSpec) orderMask() uint8 {
	switch s.variant {
	case relProc:
		return relProc
	case relRT:
		return relProc | relRT
	}
	return 0
}

// anchorRel is the kind of edge every cycle of the class has at least once.
func (s *cycleSpec) anchorRel() uint8 {
	switch {
	case s.rw != rwNone:
		return relRW
	case s.variant != 0:
		return s.variant
	case s.needWR:
		return relWR
	}
	return relWW
}

// State bits of the search.
const (
	bLastRW uint8 = 1 << iota // the last edge was rw
	bSawRW                    // the path (after the anchor) has an rw edge
	bAdj                      // two rw edges were adjacent
	bWR                       // a wr edge was used
	bOrd                      // a process (or, for -realtime, real-time) edge was used
	nStateBits
)

// usedBits are the state bits that matter to the spec; the search indexes
// states by these alone.
func (s *cycleSpec) usedBits() uint8 {
	var b uint8
	switch s.rw {
	case rwNonadj:
		b |= bLastRW | bSawRW
	case rwAdj:
		b |= bLastRW | bSawRW | bAdj
	}
	if s.needWR && s.anchorRel() != relWR {
		b |= bWR
	}
	if s.variant != 0 && s.anchorRel() != s.variant {
		b |= bOrd
	}
	return b
}

// step is one edge of a found cycle: from → to used as kind rel.
type step struct {
	from, to int32
	rel      uint8
}

var (
	errTimeout = errors.New("cycle search timed out")
	// errBudget: one class's search in one component did too much work.
	errBudget = errors.New("cycle search gave up")
)

// searcher holds the scratch space of the cycle search, reused across
// components.
type searcher struct {
	g     *graph
	ctx   context.Context
	ticks int
	// budget is how many more search states the current class may visit
	// in the current component: a giant component without a cycle of the
	// class would otherwise cost a search per anchor.
	budget int
	// local maps a global txn to its position in the current component,
	// or -1.
	local []int32
	nodes []int32
	sub   sccFinder
	// For classes with exactly one rw edge, the rest of the cycle lies in
	// the rw-free subgraph: base numbers its components in reverse
	// topological order, and a path from v can reach u only through
	// components numbered at least base.comp[u]. prune is base.comp
	// while it applies, pruneMin the bound.
	base     sccFinder
	prune    []int32
	pruneMin int32
	// Product-graph arrays, indexed by local<<w | state.
	stamp []uint32
	epoch uint32
	par   []int32
	prel  []uint8
	queue []int32
	// compact maps state bits to a dense state number for the current spec.
	compact [1 << 5]uint8
	expand  [1 << 5]uint8
	w       uint
}

func newSearcher(ctx context.Context, g *graph) *searcher {
	s := &searcher{g: g, ctx: ctx, local: make([]int32, g.n)}
	for i := range s.local {
		s.local[i] = -1
	}
	return s
}

func (s *searcher) tick() error {
	s.ticks++
	if s.ticks&1023 == 0 && s.ctx.Err() != nil {
		return errTimeout
	}
	s.budget--
	if s.budget < 0 {
		return errBudget
	}
	return nil
}

// enter makes comp the current component.
func (s *searcher) enter(comp []int32) {
	s.nodes = comp
	for i, v := range comp {
		s.local[v] = int32(i)
	}
}

func (s *searcher) leave() {
	for _, v := range s.nodes {
		s.local[v] = -1
	}
	s.nodes = nil
}

// find looks for a shortest cycle of the spec's class in the current
// component. It returns nil if there is none.
func (s *searcher) find(spec *cycleSpec) ([]step, error) {
	allowed := spec.data | spec.orderMask()
	nc := s.sub.run(s.g, s.nodes, s.local, allowed)
	if nc == len(s.nodes) {
		return nil, nil // no sub-component with a cycle
	}
	comp := s.sub.comp
	size := make([]int32, nc)
	for _, c := range comp {
		size[c]++
	}
	s.setStates(spec)
	s.budget = max(1<<21, 16*len(s.nodes)<<s.w)
	anchor := spec.anchorRel()
	s.prune = nil
	if spec.rw == rwSingle {
		s.base.run(s.g, s.nodes, s.local, allowed&^relRW)
		s.prune = s.base.comp
		defer func() { s.prune = nil }()
	}
	var best []step
	tried := 0
	doubtful := false
	for lu, u := range s.nodes {
		if size[comp[lu]] < 2 {
			continue
		}
		for i := s.g.off[u]; i < s.g.off[u+1]; i++ {
			if !anchorOK(spec, anchor, s.g.rel[i]) {
				continue
			}
			lv := s.local[s.g.to[i]]
			if lv < 0 || comp[lv] != comp[lu] || (s.prune != nil && s.prune[lv] < s.prune[lu]) {
				continue
			}
			limit := int32(1 << 30)
			if best != nil {
				limit = int32(len(best))
			}
			cyc, walks, err := s.bfs(spec, int32(lu), lv, comp, anchor, s.g.rel[i], limit)
			if err != nil {
				return best, err
			}
			if cyc == nil && walks {
				doubtful = true
			}
			if cyc != nil && (best == nil || len(cyc) < len(best)) {
				best = cyc
			}
			if best != nil {
				tried++
				if len(best) == 2 || (size[comp[lu]] > 256 && tried > 16) {
					return best, nil
				}
			}
		}
	}
	if best == nil && doubtful {
		// Closed walks of the class exist, but the breadth-first search
		// only met ones that repeat a transaction. Search simple paths
		// exhaustively (within the budget).
		return s.dfsAll(spec, comp, size, anchor)
	}
	return best, nil
}

func anchorOK(spec *cycleSpec, anchor, rel uint8) bool {
	if anchor == relRT {
		return rel&relRT != 0
	}
	return rel&anchor != 0
}

// setStates prepares the dense numbering of the spec's states.
func (s *searcher) setStates(spec *cycleSpec) {
	used := spec.usedBits()
	n := 0
	for b := 0; b < 1<<5; b++ {
		if uint8(b)&^used == 0 {
			s.compact[b] = uint8(n)
			s.expand[n] = uint8(b)
			n++
		}
	}
	s.w = 0
	for 1<<s.w < n {
		s.w++
	}
}

// bfs searches from the anchor's head lv back to its tail lu inside
// component comp[lu], for a path that closes a cycle of the spec's class.
// Paths must be shorter than limit-1 edges (so the cycle beats limit).
//
// It also says whether it met accepting closed walks that were not simple
// cycles (and of which no simple part is of the class).
func (s *searcher) bfs(spec *cycleSpec, lu, lv int32, comp []int32, anchor, anchorRel uint8, limit int32) ([]step, bool, error) {
	need := len(s.nodes) << s.w
	if len(s.stamp) < need {
		s.stamp = make([]uint32, need)
		s.par = make([]int32, need)
		s.prel = make([]uint8, need)
		s.epoch = 0
	}
	s.epoch++
	if s.epoch == 0 {
		clear(s.stamp)
		s.epoch = 1
	}
	used := spec.usedBits()
	// The anchor's own contribution to the state.
	var st0 uint8
	if anchor == relRW {
		st0 |= bLastRW
	}
	st0 &= used
	orderMask := spec.orderMask()
	allowRW := spec.rw == rwNonadj || spec.rw == rwAdj
	target := comp[lu]
	if s.prune != nil {
		s.pruneMin = s.prune[lu]
	}
	start := lv<<s.w | int32(s.compact[st0])
	s.stamp[start] = s.epoch
	s.par[start] = -1
	s.queue = append(s.queue[:0], start)
	depth := int32(1) // edges in the cycle so far: the anchor
	walks := false
	for head := 0; head < len(s.queue); {
		layerEnd := len(s.queue)
		depth++ // the edges a cycle closed from this layer has
		if depth >= limit {
			return nil, walks, nil
		}
		for ; head < layerEnd; head++ {
			if err := s.tick(); err != nil {
				return nil, walks, err
			}
			cur := s.queue[head]
			lx := cur >> s.w
			st := s.expand[cur&(1<<s.w-1)]
			x := s.nodes[lx]
			for i := s.g.off[x]; i < s.g.off[x+1]; i++ {
				rel := s.g.rel[i] & (spec.data | orderMask)
				if rel == 0 {
					continue
				}
				ly := s.local[s.g.to[i]]
				if ly < 0 || comp[ly] != target || (s.prune != nil && s.prune[ly] < s.pruneMin) {
					continue
				}
				// Each way the edge can be read.
				for _, r := range [3]uint8{rel & relRW, dataRel(rel), ordRel(spec, rel)} {
					if r == 0 {
						continue
					}
					nst, ok := transition(spec, st, r, allowRW)
					if !ok {
						continue
					}
					nst &= used
					if ly == lu {
						if s.accepts(spec, nst, anchor) {
							if c := s.path(lu, lv, anchorRel, anchor, cur, r, spec); c != nil {
								return c, false, nil
							}
							walks = true
						}
						continue
					}
					idx := ly<<s.w | int32(s.compact[nst])
					if s.stamp[idx] == s.epoch {
						continue
					}
					s.stamp[idx] = s.epoch
					s.par[idx] = cur
					s.prel[idx] = r
					s.queue = append(s.queue, idx)
				}
			}
		}
	}
	return nil, walks, nil
}

// dataRel is how a data edge is read when it is not read as rw: as wr if
// it can be (it may satisfy G1c's need), else ww.
func dataRel(rel uint8) uint8 {
	switch {
	case rel&relWR != 0:
		return relWR
	case rel&relWW != 0:
		return relWW
	}
	return 0
}

// ordRel is how an order edge is read: real time when the -realtime
// search can, else process order.
func ordRel(spec *cycleSpec, rel uint8) uint8 {
	switch {
	case spec.variant == relRT && rel&relRT != 0:
		return relRT
	case rel&relProc != 0:
		return relProc
	}
	return 0
}

// accepts: closing the cycle in state st satisfies the spec.
func (s *searcher) accepts(spec *cycleSpec, st uint8, anchor uint8) bool {
	switch spec.rw {
	case rwNonadj:
		if st&bSawRW == 0 || st&bLastRW != 0 {
			return false
		}
	case rwAdj:
		if st&bSawRW == 0 || (st&bAdj == 0 && st&bLastRW == 0) {
			return false
		}
	}
	if spec.needWR && anchor != relWR && st&bWR == 0 {
		return false
	}
	if spec.variant != 0 && anchor != spec.variant && st&bOrd == 0 {
		return false
	}
	return true
}

// path rebuilds the cycle: the anchor lu → lv, then the search path from lv
// to last, then the closing edge last → lu. It returns nil if the cycle is
// not simple.
func (s *searcher) path(lu, lv int32, anchorRel, anchor uint8, last int32, closeRel uint8, spec *cycleSpec) []step {
	var rev []step
	u := s.nodes[lu]
	rev = append(rev, step{s.nodes[last>>s.w], u, closeRel})
	for cur := last; s.par[cur] >= 0; cur = s.par[cur] {
		prev := s.par[cur]
		rev = append(rev, step{s.nodes[prev>>s.w], s.nodes[cur>>s.w], s.prel[cur]})
	}
	// The anchor, read as the kind the class needs.
	ar := anchor
	if anchor == relRT && anchorRel&relRT == 0 {
		ar = relProc
	}
	rev = append(rev, step{u, s.nodes[lv], ar})
	out := make([]step, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return simplePart(out, spec.name)
}

// simplePart returns the closed walk if it is a simple cycle of the class
// name, or else the first simple cycle of that class it decomposes into (a
// closed walk that repeats a transaction is two shorter closed walks), or
// nil.
func simplePart(w []step, name string) []step {
	first := make(map[int32]int, len(w))
	for i, st := range w {
		j, seen := first[st.from]
		if !seen {
			first[st.from] = i
			continue
		}
		// w[j:i] is a closed walk, and so is the rest.
		inner := append([]step(nil), w[j:i]...)
		outer := append(append([]step(nil), w[:j]...), w[i:]...)
		if c := simplePart(inner, name); c != nil {
			return c
		}
		return simplePart(outer, name)
	}
	if classify(w) == name {
		return w
	}
	return nil
}

// dfsAll searches every anchor's simple paths depth-first, for the cases
// where the breadth-first search could only find walks. It is exhaustive
// unless the budget runs out (errBudget).
func (s *searcher) dfsAll(spec *cycleSpec, comp, size []int32, anchor uint8) ([]step, error) {
	onPath := make([]bool, len(s.nodes))
	var path []step
	var found []step
	allowRW := spec.rw == rwNonadj || spec.rw == rwAdj
	mask := spec.data | spec.orderMask()
	var lu int32
	var dfs func(lx int32, st uint8) error
	dfs = func(lx int32, st uint8) error {
		x := s.nodes[lx]
		for i := s.g.off[x]; i < s.g.off[x+1]; i++ {
			rel := s.g.rel[i] & mask
			if rel == 0 {
				continue
			}
			ly := s.local[s.g.to[i]]
			if ly < 0 || comp[ly] != comp[lu] || (ly != lu && onPath[ly]) {
				continue
			}
			for _, r := range [3]uint8{rel & relRW, dataRel(rel), ordRel(spec, rel)} {
				if r == 0 {
					continue
				}
				if err := s.tick(); err != nil {
					return err
				}
				nst, ok := transition(spec, st, r, allowRW)
				if !ok {
					continue
				}
				path = append(path, step{x, s.nodes[ly], r})
				if ly == lu {
					if s.accepts(spec, nst, anchor) && classify(path) == spec.name {
						found = append([]step(nil), path...)
						return nil
					}
				} else {
					onPath[ly] = true
					if err := dfs(ly, nst); err != nil || found != nil {
						return err
					}
					onPath[ly] = false
				}
				path = path[:len(path)-1]
			}
		}
		return nil
	}
	for l, u := range s.nodes {
		if size[comp[l]] < 2 {
			continue
		}
		lu = int32(l)
		for i := s.g.off[u]; i < s.g.off[u+1]; i++ {
			if !anchorOK(spec, anchor, s.g.rel[i]) {
				continue
			}
			lv := s.local[s.g.to[i]]
			if lv < 0 || comp[lv] != comp[lu] {
				continue
			}
			ar := anchor
			if anchor == relRT && s.g.rel[i]&relRT == 0 {
				ar = relProc
			}
			var st0 uint8
			if anchor == relRW {
				st0 = bLastRW
			}
			clear(onPath)
			onPath[lu], onPath[lv] = true, true
			path = append(path[:0], step{u, s.nodes[lv], ar})
			if err := dfs(lv, st0); err != nil || found != nil {
				return found, err
			}
		}
	}
	return nil, nil
}

// transition is the state after reading an edge as kind r, or false if
// the class forbids it.
func transition(spec *cycleSpec, st, r uint8, allowRW bool) (uint8, bool) {
	var nst uint8
	switch {
	case r == relRW:
		if !allowRW || (spec.rw == rwNonadj && st&bLastRW != 0) {
			return 0, false
		}
		nst = st | bLastRW | bSawRW
		if st&bLastRW != 0 {
			nst |= bAdj
		}
	case r == relWW || r == relWR:
		nst = st &^ bLastRW
		if r == relWR {
			nst |= bWR
		}
	default: // order
		nst = st &^ bLastRW
		if spec.variant == relProc || r == relRT {
			nst |= bOrd
		}
	}
	return nst, true
}

// classify names a cycle's class from its edges, as Elle's cycle explainer
// does for a cycle without predicate edges: one rw edge is G-single-item,
// several with two adjacent G2-item, several none adjacent
// G-nonadjacent-item; else a wr edge makes G1c and ww edges alone G0; a
// real-time edge adds -realtime, else a process edge -process.
func classify(c []step) string {
	var rw, wr, ww, proc, rt int
	adj := false
	for i, st := range c {
		switch st.rel {
		case relRW:
			rw++
			if c[(i+len(c)-1)%len(c)].rel == relRW {
				adj = true
			}
		case relWR:
			wr++
		case relWW:
			ww++
		case relProc:
			proc++
		case relRT:
			rt++
		}
	}
	var name string
	switch {
	case rw == 1:
		name = "G-single-item"
	case rw > 1 && adj:
		name = "G2-item"
	case rw > 1:
		name = "G-nonadjacent-item"
	case wr > 0:
		name = "G1c"
	case ww > 0:
		name = "G0"
	default:
		return ""
	}
	switch {
	case rt > 0:
		name += "-realtime"
	case proc > 0:
		name += "-process"
	}
	return name
}

// cycleExistsSpecs are Elle's fallbacks for a component whose search timed
// out: the subgraph whose cycles each model forbids. (Elle's snapshot
// isolation specs, which need a graph extension, are left out.)
var cycleExistsSpecs = []struct {
	model string
	mask  uint8
}{
	{"PL-1", relWW},
	{"PL-2", relWW | relWR},
	{"PL-3", relData},
	{"strong-session-PL-1", relWW | relProc},
	{"strong-session-PL-2", relWW | relWR | relProc},
	{"strong-session-serializable", relData | relProc},
	{"strong-PL-1", relWW | relProc | relRT},
	{"strong-PL-2", relWW | relWR | relProc | relRT},
	{"PL-SS", relData | relProc | relRT},
}

// cycleExists lists the weakest models whose forbidden subgraph has a cycle
// in the current component, as "<model>-cycle-exists" anomaly types.
func (s *searcher) cycleExists() []string {
	var out []string
	ruledOut := map[string]bool{}
	for _, c := range cycleExistsSpecs {
		if ruledOut[c.model] {
			continue
		}
		if nc := s.sub.run(s.g, s.nodes, s.local, c.mask); nc < len(s.nodes) {
			out = append(out, c.model+"-cycle-exists")
			for m := range closure(models.modelsIn, []string{c.model}) {
				ruledOut[m] = true
			}
		}
	}
	return out
}
