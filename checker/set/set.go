package set

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/histories"
)

// Name is the checker's key in results.json.
const Name = "set"

// Options configure the set checker.
type Options struct {
	// Linearizable says the set claims linearizability (Jepsen's
	// :linearizable?): a stale element, one that a read which began after
	// the element was known to be in the set did not see, makes the history
	// invalid. Without it, stale elements are counted and listed but
	// allowed.
	Linearizable bool
}

// Checker is Jepsen's set-full checker. See the package doc.
type Checker struct{ opts Options }

// New returns a set checker.
func New(opts Options) *Checker { return &Checker{opts: opts} }

// Name implements checker.Checker.
func (c *Checker) Name() string { return Name }

// Anomaly types.
const (
	AnomalyLost       = "lost"
	AnomalyStale      = "stale"
	AnomalyDuplicated = "duplicated"
	AnomalyUnexpected = "unexpected"
)

// Outcomes of an element.
const (
	OutcomeStable    = "stable"
	OutcomeLost      = "lost"
	OutcomeNeverRead = "never-read"
)

// Details is the set checker's account in results.json. Counts are
// whole; the lists of elements are sorted and hold at most 100 (a keyed
// history lists [key element] pairs). Latencies are in milliseconds, by
// quantile ("0", "0.5", "0.95", "0.99", "1"), as Jepsen's set-full reports
// them; absent in a history without real times.
type Details struct {
	Linearizable bool `json:"linearizable"`
	// Keyed: how many keys, and which were invalid or undecided.
	wl.Keyed
	// ReadCount is how many reads completed ok.
	ReadCount int `json:"read-count"`
	// AttemptCount is how many elements an add was invoked for;
	// AcknowledgedCount how many of them an add completed ok for.
	AttemptCount      int `json:"attempt-count"`
	AcknowledgedCount int `json:"acknowledged-count"`
	// OKCount is how many elements were stable: present in every read that
	// began after some point (Jepsen's :stable-count).
	OKCount int   `json:"ok-count"`
	Lost    []any `json:"lost"`
	// LostCount: known to be in the set (acknowledged or seen), then
	// missing from every read that began after the last read that saw
	// them.
	LostCount int `json:"lost-count"`
	// StaleCount: stable, but missed by a read that began after they were
	// known to be in the set.
	StaleCount int   `json:"stale-count"`
	Stale      []any `json:"stale,omitempty"`
	// NeverReadCount: neither stable nor lost: no read began after they
	// were known, or they were never known (a failed or crashed add never
	// seen).
	NeverReadCount int   `json:"never-read-count"`
	NeverRead      []any `json:"never-read,omitempty"`
	// RecoveredCount: their add crashed (info, or never completed) and a
	// read saw them.
	RecoveredCount int   `json:"recovered-count"`
	Recovered      []any `json:"recovered,omitempty"`
	// DuplicatedCount: elements that some read returned more than once.
	DuplicatedCount int         `json:"duplicated-count"`
	Duplicated      []Duplicate `json:"duplicated,omitempty"`
	// UnexpectedCount: elements a read returned that no add could have put
	// there: never added, added only after the read completed, or whose
	// only add failed.
	UnexpectedCount int          `json:"unexpected-count"`
	Unexpected      []Unexpected `json:"unexpected,omitempty"`
	// LostDetails explains the first lost elements (at most 20).
	LostDetails []Element `json:"lost-details,omitempty"`
	// WorstStale are the stale elements that took longest to become
	// stable (at most 8), as Jepsen's :worst-stale.
	WorstStale      []Element          `json:"worst-stale,omitempty"`
	StableLatencies map[string]float64 `json:"stable-latencies,omitempty"`
	LostLatencies   map[string]float64 `json:"lost-latencies,omitempty"`
}

// Element is one element's story.
type Element struct {
	Key     string `json:"key,omitempty"`
	Element any    `json:"element"`
	Outcome string `json:"outcome"`
	// Add is the element's add; Known the op after which it was known to
	// be in the set (the add's ok completion or the first read that saw
	// it, whichever came first).
	Add   *checker.OpRef `json:"add,omitempty"`
	Known *checker.OpRef `json:"known,omitempty"`
	// LastPresent is the last read (by invocation) that saw the element;
	// LastAbsent the last read that did not.
	LastPresent *checker.OpRef `json:"last-present,omitempty"`
	LastAbsent  *checker.OpRef `json:"last-absent,omitempty"`
	// Latencies in milliseconds (Jepsen's stable and lost latencies).
	StableLatency *float64 `json:"stable-latency,omitempty"`
	LostLatency   *float64 `json:"lost-latency,omitempty"`
}

// Duplicate is an element that a read returned Count times.
type Duplicate struct {
	Key     string        `json:"key,omitempty"`
	Element any           `json:"element"`
	Count   int           `json:"count"`
	Read    checker.OpRef `json:"read"`
}

// Unexpected is an element that a read returned and no add could have put
// there; Why says which: "never added", "added after the read" or "add
// failed".
type Unexpected struct {
	Key     string         `json:"key,omitempty"`
	Element any            `json:"element"`
	Why     string         `json:"why"`
	Read    checker.OpRef  `json:"read"`
	Add     *checker.OpRef `json:"add,omitempty"`
}

// Check implements checker.Checker.
func (c *Checker) Check(ctx context.Context, h histories.History) (checker.Result, error) {
	p, err := wl.Pair(h)
	if err != nil {
		return checker.Result{}, err
	}
	tl := wl.NewTimeline(h)
	keys, byKey := p.Groups()
	poll := &wl.Poll{Ctx: ctx}
	var ks []*keyResult
	for _, k := range keys {
		r, err := checkKey(p, tl, k, byKey[k], c.opts, poll)
		if err != nil {
			return checker.Result{}, err
		}
		if r == nil {
			return wl.Interrupted(Name, ctx), nil
		}
		ks = append(ks, r)
	}
	return merge(ks, keys, c.opts, tl), nil
}

const none = math.MaxInt

// elem is an element's state. Positions are into the history.
type elem struct {
	v       any
	addPair int32 // the first add
	addPos  int   // the first add's invocation
	outcome histories.Type
	// known is the position of the ok add completion or the first read
	// completion that saw the element, none if neither; knownPair is that
	// op's pair.
	known     int
	knownPair int32
	// lp and la are the last reads (by invocation position) that saw and
	// did not see the element, -1 if none: indexes into reads.
	lp, la int32
	next   int32 // the unresolved list, in addPos order
}

type read struct {
	pair    int32
	invPos  int
	compPos int
	ids     []int32 // the elements it saw whose add began before it completed
}

type keyResult struct {
	key                  string
	valid                checker.Validity
	attempts, acked, oks int
	reads                int
	lost, stale, neverRd []int32
	recovered            []int32
	dups                 []Duplicate
	unexpected           []Unexpected
	elems                []elem
	rds                  []read
	p                    *wl.Paired
	stableLat, lostLat   []float64
	staleLat             map[int32]float64
	lostLatOf            map[int32]float64
	unknownWhy           string
}

func checkKey(p *wl.Paired, tl wl.Timeline, key string, pairs []int, opts Options, poll *wl.Poll) (*keyResult, error) {
	h := p.H
	r := &keyResult{key: key, p: p}
	ids := newIndex()
	// Elements, in the order their adds were invoked.
	for _, i := range pairs {
		if poll.Done() {
			return nil, nil
		}
		inv := p.Inv(i)
		if inv.F != "add" {
			continue
		}
		k, ok := wl.Elem(inv.Value)
		if !ok {
			return nil, wl.Errorf(Name, inv, "an add's value is the element to add, but it is nil")
		}
		out := p.Outcome(i)
		pr := p.Pairs[i]
		id, isNew := ids.get(k, int32(len(r.elems)))
		if isNew {
			r.elems = append(r.elems, elem{v: k, addPair: int32(i), addPos: pr.Invoke, outcome: out, known: none, knownPair: -1, lp: -1, la: -1})
		} else if e := &r.elems[id]; out == histories.OK || out == histories.Info && e.outcome == histories.Fail {
			// The same element added again (Jepsen wants them unique):
			// its first add places it, its best outcome counts.
			e.outcome = out
		}
		if out == histories.OK {
			if e := &r.elems[id]; pr.Complete < e.known {
				e.known, e.knownPair = pr.Complete, int32(i)
			}
		}
	}
	ids.freeze()
	r.attempts = len(r.elems)
	for i := range r.elems {
		if r.elems[i].outcome == histories.OK {
			r.acked++
		}
	}
	// Reads: what each saw, who was present, duplicates and elements no
	// add explains.
	stamp := make([]int32, len(r.elems))
	for i := range stamp {
		stamp[i] = -1
	}
	dupAt := map[any]int{} // element → its entry in r.dups
	dup := func(k any, n, i int) {
		if j, ok := dupAt[k]; ok {
			if n > r.dups[j].Count {
				r.dups[j].Count, r.dups[j].Read = n, tl.Ref(p, i, false, false)
			}
			return
		}
		dupAt[k] = len(r.dups)
		r.dups = append(r.dups, Duplicate{Key: key, Element: wl.ElemValue(k), Count: n, Read: tl.Ref(p, i, false, false)})
	}
	unexpSeen := map[any]bool{}
	for _, i := range pairs {
		if poll.Done() {
			return nil, nil
		}
		inv := p.Inv(i)
		if inv.F != "read" || p.Outcome(i) != histories.OK {
			continue
		}
		comp := p.Comp(i)
		var vals []any
		switch v := comp.Value.(type) {
		case []any:
			vals = v
		case nil:
			// Jepsen reads nil as the empty set.
		default:
			return nil, wl.Errorf(Name, comp, "a read returns the whole set, a list of elements, not %s", wl.Shape(comp.Value))
		}
		pr := p.Pairs[i]
		rd := read{pair: int32(i), invPos: pr.Invoke, compPos: pr.Complete, ids: make([]int32, 0, len(vals))}
		seq := int32(len(r.rds))
		var extra map[any]int     // elements never added, with their count
		var repeats map[int32]int // added elements repeated: how many times more
		for _, v := range vals {
			k, ok := wl.Elem(v)
			if !ok {
				return nil, wl.Errorf(Name, comp, "the read holds nil, which no add adds")
			}
			id, known := ids.lookup(k)
			if !known {
				if extra == nil {
					extra = map[any]int{}
				}
				extra[k]++
				if extra[k] == 1 && !unexpSeen[k] {
					unexpSeen[k] = true
					r.unexpected = append(r.unexpected, Unexpected{Key: key, Element: wl.ElemValue(k), Why: "never added", Read: tl.Ref(p, i, false, false)})
				}
				continue
			}
			if stamp[id] == seq {
				// A repeat within this read.
				if repeats == nil {
					repeats = map[int32]int{}
				}
				repeats[id]++
				continue
			}
			stamp[id] = seq
			e := &r.elems[id]
			if e.addPos > pr.Complete {
				if !unexpSeen[k] {
					unexpSeen[k] = true
					add := tl.Ref(p, int(e.addPair), true, false)
					r.unexpected = append(r.unexpected, Unexpected{Key: key, Element: wl.ElemValue(k), Why: "added after the read", Read: tl.Ref(p, i, false, false), Add: &add})
				}
				continue
			}
			if e.outcome == histories.Fail && !unexpSeen[k] {
				unexpSeen[k] = true
				add := tl.Ref(p, int(e.addPair), true, false)
				r.unexpected = append(r.unexpected, Unexpected{Key: key, Element: wl.ElemValue(k), Why: "add failed", Read: tl.Ref(p, i, false, false), Add: &add})
			}
			rd.ids = append(rd.ids, id)
			if e.lp < 0 || r.rds[e.lp].invPos < pr.Invoke {
				e.lp = seq
			}
			if pr.Complete < e.known {
				e.known, e.knownPair = pr.Complete, int32(i)
			}
		}
		for k, n := range extra {
			if n > 1 {
				dup(k, n, i)
			}
		}
		for id, n := range repeats {
			dup(r.elems[id].v, n+1, i)
		}
		r.rds = append(r.rds, rd)
	}
	r.reads = len(r.rds)
	if err := lastAbsent(r, stamp, poll); err != nil {
		return nil, nil
	}
	classify(r, h, opts)
	return r, nil
}

// lastAbsent finds, for every element, the read with the latest
// invocation among those that completed after its add began and did not
// see it. Reads are taken latest invocation first; the elements not yet
// resolved are a list in the order of their adds, and a read resolves
// every element of the list whose add began before it completed and that
// it did not see. It walks past the ones it saw, so each read costs the
// elements it holds plus the ones it resolves: O(size of the reads).
func lastAbsent(r *keyResult, stamp []int32, poll *wl.Poll) error {
	n := len(r.elems)
	if n == 0 || len(r.rds) == 0 {
		return nil
	}
	for i := range r.elems {
		r.elems[i].next = int32(i + 1)
	}
	r.elems[n-1].next = -1
	head := int32(0)
	for i := range stamp {
		stamp[i] = -1
	}
	// Reads are in invocation order (pairs are): take them backwards.
	for ri := int32(len(r.rds) - 1); ri >= 0; ri-- {
		if poll.Done() {
			return context.Canceled
		}
		rd := &r.rds[ri]
		for _, id := range rd.ids {
			stamp[id] = ri
		}
		prev, cur := int32(-1), head
		for cur >= 0 && r.elems[cur].addPos < rd.compPos {
			e := &r.elems[cur]
			nxt := e.next
			if stamp[cur] == ri {
				prev = cur
			} else {
				e.la = ri
				if prev < 0 {
					head = nxt
				} else {
					r.elems[prev].next = nxt
				}
			}
			cur = nxt
		}
		if head < 0 {
			break
		}
	}
	return nil
}

func classify(r *keyResult, h histories.History, opts Options) {
	r.staleLat = map[int32]float64{}
	r.lostLatOf = map[int32]float64{}
	for id := range r.elems {
		e := &r.elems[id]
		lpInv, laInv := -1, -1
		if e.lp >= 0 {
			lpInv = r.rds[e.lp].invPos
		}
		if e.la >= 0 {
			laInv = r.rds[e.la].invPos
		}
		if e.outcome == histories.Info && e.lp >= 0 {
			r.recovered = append(r.recovered, int32(id))
		}
		var knownTime int64
		if e.known != none {
			knownTime = h[e.known].Time
		}
		switch {
		case e.lp >= 0 && laInv < lpInv:
			r.oks++
			// Stable since the read after the last that missed it (or
			// since it was known, if none did).
			var lat float64
			if e.la >= 0 {
				lat = max(0, float64(h[laInv].Time-knownTime)/1e6)
			}
			r.stableLat = append(r.stableLat, lat)
			if e.la >= 0 && laInv > e.known {
				r.stale = append(r.stale, int32(id))
				r.staleLat[int32(id)] = lat
			}
		case e.known != none && e.la >= 0 && lpInv < laInv && e.known < laInv:
			var lat float64
			if e.lp >= 0 {
				lat = max(0, float64(h[lpInv].Time-knownTime)/1e6)
			}
			r.lostLat = append(r.lostLat, lat)
			r.lostLatOf[int32(id)] = lat
			r.lost = append(r.lost, int32(id))
		default:
			r.neverRd = append(r.neverRd, int32(id))
		}
	}
	switch {
	case len(r.lost) > 0 || len(r.dups) > 0 || len(r.unexpected) > 0 || opts.Linearizable && len(r.stale) > 0:
		r.valid = checker.Invalid
	case r.oks == 0:
		r.valid = checker.Unknown
		switch {
		case r.attempts == 0:
			r.unknownWhy = "nothing was added"
		case r.reads == 0:
			r.unknownWhy = "the set was never read"
		default:
			r.unknownWhy = "no added element was ever seen by the reads that followed it"
		}
	default:
		r.valid = checker.Valid
	}
}

// index maps elements to ids, with a fast path for integers, and a
// faster one (a slice) for integers in a dense range, the usual case.
type index struct {
	ints  map[int64]int32
	any   map[any]int32
	dense []int32 // id+1 by element-lo, 0 for none; set by freeze
	lo    int64
}

func newIndex() *index { return &index{ints: map[int64]int32{}} }

func (x *index) lookup(k any) (int32, bool) {
	if i, ok := k.(int64); ok {
		if x.dense != nil {
			if j := uint64(i - x.lo); j < uint64(len(x.dense)) && x.dense[j] != 0 {
				return x.dense[j] - 1, true
			}
			return 0, false
		}
		id, found := x.ints[i]
		return id, found
	}
	id, found := x.any[k]
	return id, found
}

// freeze is called once every element is in: integers that span no more
// than four times their number move to a slice.
func (x *index) freeze() {
	if len(x.ints) == 0 {
		return
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range x.ints {
		lo, hi = min(lo, i), max(hi, i)
	}
	if span := uint64(hi - lo); span >= 4*uint64(len(x.ints))+64 {
		return
	}
	x.lo = lo
	x.dense = make([]int32, hi-lo+1)
	for i, id := range x.ints {
		x.dense[i-lo] = id + 1
	}
}

// get returns k's id, giving it next if it has none.
func (x *index) get(k any, next int32) (int32, bool) {
	if id, ok := x.lookup(k); ok {
		return id, false
	}
	if i, ok := k.(int64); ok {
		x.ints[i] = next
	} else {
		if x.any == nil {
			x.any = map[any]int32{}
		}
		x.any[k] = next
	}
	return next, true
}

// merge composes the keys' results.
func merge(ks []*keyResult, keys []string, opts Options, tl wl.Timeline) checker.Result {
	d := Details{Linearizable: opts.Linearizable, Lost: []any{}}
	keyed := len(keys) > 1 || len(keys) == 1 && keys[0] != ""
	if keyed {
		d.Keys = len(keys)
	}
	valid := checker.Valid
	if len(ks) == 0 {
		valid = checker.Unknown
	}
	type tagged struct {
		r  *keyResult
		id int32
	}
	var lost, stale, never, recovered []tagged
	var stableLat, lostLat []float64
	var unknownWhy []string
	for _, r := range ks {
		valid = checker.Merge(valid, d.Note(keyed, r.key, r.valid))
		if r.valid == checker.Unknown {
			unknownWhy = append(unknownWhy, wl.KeyPrefix(r.key)+r.unknownWhy)
		}
		d.ReadCount += r.reads
		d.AttemptCount += r.attempts
		d.AcknowledgedCount += r.acked
		d.OKCount += r.oks
		for _, id := range r.lost {
			lost = append(lost, tagged{r, id})
		}
		for _, id := range r.stale {
			stale = append(stale, tagged{r, id})
		}
		for _, id := range r.neverRd {
			never = append(never, tagged{r, id})
		}
		for _, id := range r.recovered {
			recovered = append(recovered, tagged{r, id})
		}
		d.Duplicated = append(d.Duplicated, r.dups...)
		d.Unexpected = append(d.Unexpected, r.unexpected...)
		stableLat = append(stableLat, r.stableLat...)
		lostLat = append(lostLat, r.lostLat...)
	}
	byElem := func(a, b tagged) int {
		if c := wl.CompareKeys(a.r.key, b.r.key); c != 0 {
			return c
		}
		return wl.CompareElems(a.r.elems[a.id].v, b.r.elems[b.id].v)
	}
	list := func(ts []tagged) []any {
		slices.SortFunc(ts, byElem)
		var out []any
		for _, t := range ts[:min(len(ts), wl.MaxListed)] {
			v := wl.ElemValue(t.r.elems[t.id].v)
			if keyed {
				v = []any{t.r.key, v}
			}
			out = append(out, v)
		}
		return out
	}
	d.LostCount, d.StaleCount, d.NeverReadCount, d.RecoveredCount = len(lost), len(stale), len(never), len(recovered)
	if l := list(lost); l != nil {
		d.Lost = l
	}
	d.Stale, d.NeverRead, d.Recovered = list(stale), list(never), list(recovered)
	slices.SortStableFunc(d.Duplicated, func(a, b Duplicate) int {
		if c := wl.CompareKeys(a.Key, b.Key); c != 0 {
			return c
		}
		return wl.CompareElems(a.Element, b.Element)
	})
	slices.SortStableFunc(d.Unexpected, func(a, b Unexpected) int {
		if c := wl.CompareKeys(a.Key, b.Key); c != 0 {
			return c
		}
		return wl.CompareElems(a.Element, b.Element)
	})
	d.DuplicatedCount, d.UnexpectedCount = len(d.Duplicated), len(d.Unexpected)
	d.Duplicated = d.Duplicated[:min(len(d.Duplicated), wl.MaxListed)]
	d.Unexpected = d.Unexpected[:min(len(d.Unexpected), wl.MaxListed)]
	for _, t := range lost[:min(len(lost), 20)] {
		d.LostDetails = append(d.LostDetails, t.r.element(t.id, OutcomeLost, tl))
	}
	ws := slices.Clone(stale)
	slices.SortStableFunc(ws, func(a, b tagged) int { return cmp.Compare(b.r.staleLat[b.id], a.r.staleLat[a.id]) })
	for _, t := range ws[:min(len(ws), 8)] {
		d.WorstStale = append(d.WorstStale, t.r.element(t.id, OutcomeStable, tl))
	}
	if !tl.Positions {
		d.StableLatencies = wl.Quantiles(stableLat)
		d.LostLatencies = wl.Quantiles(lostLat)
	}

	res := checker.Result{Valid: valid, Details: d}
	if d.LostCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyLost)
	}
	if d.StaleCount > 0 && opts.Linearizable {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyStale)
	}
	if d.DuplicatedCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyDuplicated)
	}
	if d.UnexpectedCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyUnexpected)
	}
	slices.Sort(res.AnomalyTypes)

	// The summary: the verdict, what went wrong by name, then the counts.
	var parts []string
	if d.LostCount > 0 {
		var names []string
		for _, t := range lost[:min(len(lost), wl.MaxNamed)] {
			names = append(names, t.r.describeLost(t.id, tl))
		}
		parts = append(parts, fmt.Sprintf("%s lost: %s", wl.Plural(d.LostCount, "acknowledged element", "acknowledged elements"), wl.List(names, d.LostCount, wl.MaxNamed)))
	}
	if d.DuplicatedCount > 0 {
		var names []string
		for _, dup := range d.Duplicated[:min(len(d.Duplicated), wl.MaxNamed)] {
			names = append(names, fmt.Sprintf("%s%s %d times in the read %s", wl.KeyPrefix(dup.Key), histories.FormatValue(dup.Element), dup.Count, wl.RefText(dup.Read, tl)))
		}
		parts = append(parts, fmt.Sprintf("%s duplicated: %s", wl.Plural(d.DuplicatedCount, "element", "elements"), wl.List(names, d.DuplicatedCount, wl.MaxNamed)))
	}
	if d.UnexpectedCount > 0 {
		var names []string
		for _, u := range d.Unexpected[:min(len(d.Unexpected), wl.MaxNamed)] {
			s := fmt.Sprintf("%s%s (%s) read by %s", wl.KeyPrefix(u.Key), histories.FormatValue(u.Element), u.Why, wl.RefText(u.Read, tl))
			if u.Add != nil {
				s += ", add " + wl.RefText(*u.Add, tl)
			}
			names = append(names, s)
		}
		parts = append(parts, fmt.Sprintf("%s that no add explains: %s", wl.Plural(d.UnexpectedCount, "element read", "elements read"), wl.List(names, d.UnexpectedCount, wl.MaxNamed)))
	}
	if d.StaleCount > 0 {
		var names []string
		for _, t := range ws[:min(len(ws), wl.MaxNamed)] {
			names = append(names, t.r.describeStale(t.id, tl))
		}
		what := "stale (allowed: the set is not checked for linearizability)"
		if opts.Linearizable {
			what = "stale (the set claims linearizability)"
		}
		parts = append(parts, fmt.Sprintf("%s %s: %s", wl.Plural(d.StaleCount, "element", "elements"), what, wl.List(names, d.StaleCount, wl.MaxNamed)))
	}
	if valid == checker.Unknown && len(unknownWhy) > 0 {
		parts = append(parts, wl.List(unknownWhy, len(unknownWhy), 3))
	}
	counts := fmt.Sprintf("%s added (%d acknowledged), %s: %d ok, %d lost, %d stale, %d never read, %d recovered, %d duplicated, %d unexpected",
		wl.Plural(d.AttemptCount, "element", "elements"), d.AcknowledgedCount, wl.Plural(d.ReadCount, "read", "reads"), d.OKCount, d.LostCount, d.StaleCount, d.NeverReadCount, d.RecoveredCount, d.DuplicatedCount, d.UnexpectedCount)
	if keyed {
		counts = fmt.Sprintf("%d keys, ", d.Keys) + counts
		if len(d.FailedKeys) > 0 {
			counts += "; invalid keys: " + strings.Join(d.FailedKeys[:min(len(d.FailedKeys), 10)], ", ")
		}
	}
	if q := d.StableLatencies; q != nil {
		counts += fmt.Sprintf("; stable latency %g ms median, %g ms max", q["0.5"], q["1"])
	}
	parts = append(parts, counts)
	res.Summary = strings.Join(parts, ". ")
	return res
}

// element is element id's story.
func (r *keyResult) element(id int32, outcome string, tl wl.Timeline) Element {
	e := &r.elems[id]
	out := Element{Key: r.key, Element: wl.ElemValue(e.v), Outcome: outcome}
	add := tl.Ref(r.p, int(e.addPair), true, false)
	out.Add = &add
	if e.knownPair >= 0 {
		k := tl.Ref(r.p, int(e.knownPair), r.p.Inv(int(e.knownPair)).F == "add", false)
		out.Known = &k
	}
	if e.lp >= 0 {
		x := tl.Ref(r.p, int(r.rds[e.lp].pair), false, false)
		out.LastPresent = &x
	}
	if e.la >= 0 {
		x := tl.Ref(r.p, int(r.rds[e.la].pair), false, false)
		out.LastAbsent = &x
	}
	if !tl.Positions {
		if lat, ok := r.staleLat[id]; ok {
			out.StableLatency = &lat
		}
		if lat, ok := r.lostLatOf[id]; ok {
			out.LostLatency = &lat
		}
	}
	return out
}

// describeLost names a lost element in the summary: its add, the last
// read that saw it and the read after which no read did.
func (r *keyResult) describeLost(id int32, tl wl.Timeline) string {
	e := &r.elems[id]
	h := r.p.H
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s (add ", wl.KeyPrefix(r.key), wl.FormatElem(e.v))
	b.WriteString(addText(r.p, int(e.addPair), tl))
	if e.lp >= 0 {
		fmt.Fprintf(&b, "; last seen by the read invoked at %s", tl.Describe(&h[r.rds[e.lp].invPos]))
	} else {
		b.WriteString("; never seen by a read")
	}
	fmt.Fprintf(&b, "; missing from the read invoked at %s and every read that began after the last that saw it)", tl.Describe(&h[r.rds[e.la].invPos]))
	return b.String()
}

func (r *keyResult) describeStale(id int32, tl wl.Timeline) string {
	e := &r.elems[id]
	h := r.p.H
	s := fmt.Sprintf("%s%s (known at %s; missed by the read invoked at %s", wl.KeyPrefix(r.key), wl.FormatElem(e.v), tl.Describe(&h[e.known]), tl.Describe(&h[r.rds[e.la].invPos]))
	if lat, ok := r.staleLat[id]; ok && !tl.Positions {
		s += fmt.Sprintf("; stable after %g ms", lat)
	}
	return s + ")"
}

// addText is an add as "ok at op 12 (process 3, n1, 0.5 s)".
func addText(p *wl.Paired, i int, tl wl.Timeline) string {
	switch c := p.Comp(i); {
	case c == nil:
		return "invoked at " + tl.Describe(p.Inv(i)) + ", never completed"
	case c.Type == histories.Info:
		return "invoked at " + tl.Describe(p.Inv(i)) + ", info"
	default:
		return c.Type.String() + " at " + tl.Describe(c)
	}
}
