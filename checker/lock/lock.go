package lock

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/histories"
)

// Name is the checker's key in results.json.
const Name = "lock"

// Anomaly types.
const (
	AnomalyOverlappingHolders = "overlapping-holders"
	AnomalyStaleToken         = "stale-token-accepted"
	AnomalyDuplicateToken     = "duplicate-token"
)

// Checker checks mutual exclusion and fencing tokens. See the package doc.
type Checker struct{}

// New returns a lock checker.
func New() *Checker { return &Checker{} }

// Name implements checker.Checker.
func (*Checker) Name() string { return Name }

// Details is the lock checker's account in results.json.
type Details struct {
	// Keyed: how many keys, and which were invalid or undecided.
	wl.Keyed
	// AcquireCount is how many acquires were invoked, AcquiredCount how
	// many completed ok, CrashedAcquires how many crashed (info or never
	// completed: possible holders, never counted in an overlap);
	// WriteCount how many protected writes completed ok.
	AcquireCount    int `json:"acquire-count"`
	AcquiredCount   int `json:"acquired-count"`
	CrashedAcquires int `json:"crashed-acquires"`
	ReleaseCount    int `json:"release-count"`
	WriteCount      int `json:"write-count"`
	// OverlapCount is how many pairs of certain holds overlapped; Overlaps
	// lists the first 100.
	OverlapCount int       `json:"overlap-count"`
	Overlaps     []Overlap `json:"overlaps,omitempty"`
	// StaleTokenCount is how many writes were accepted with a token older
	// than one already accepted; DuplicateTokenCount how many acquires
	// returned a token another acquire had returned.
	StaleTokenCount     int              `json:"stale-token-count"`
	StaleTokens         []StaleToken     `json:"stale-tokens,omitempty"`
	DuplicateTokenCount int              `json:"duplicate-token-count"`
	DuplicateTokens     []DuplicateToken `json:"duplicate-tokens,omitempty"`
}

// Hold is a process holding the lock. From and To bound the time it
// certainly held it: from its acquire's ok completion to the invocation of
// its release (or of the op during which it crashed), or to the end of
// the history if it did neither. PossiblyTo is when it may have held it
// until: the release's completion if it completed ok, else the end of the
// history.
type Hold struct {
	Key     string            `json:"key,omitempty"`
	Process histories.Process `json:"process"`
	Node    string            `json:"node,omitempty"`
	Token   *int64            `json:"token,omitempty"`
	Acquire checker.OpRef     `json:"acquire"`
	// End is the release, or the op that crashed, whose invocation ended
	// the certain hold; absent when the hold lasts to the end of the
	// history. EndedBy says which: "release", "crash" or "end of history".
	End     *checker.OpRef `json:"end,omitempty"`
	EndedBy string         `json:"ended-by"`
	// FromIndex and ToIndex are the op indexes that bound the certain hold
	// (ToIndex is the last op's at the end of the history); From, To and
	// PossiblyTo are seconds since the start.
	FromIndex  int64    `json:"from-index"`
	ToIndex    int64    `json:"to-index"`
	From       *float64 `json:"from,omitempty"`
	To         *float64 `json:"to,omitempty"`
	PossiblyTo *float64 `json:"possibly-to,omitempty"`
}

// Overlap is two processes certainly holding the lock at once: each
// acquired it before the other began to release it.
type Overlap struct {
	Key string `json:"key,omitempty"`
	// A acquired first.
	A Hold `json:"a"`
	B Hold `json:"b"`
}

// StaleToken is a write accepted with token Token after a write with the
// newer token NewerToken had completed before it was invoked.
type StaleToken struct {
	Key        string        `json:"key,omitempty"`
	Token      int64         `json:"token"`
	Write      checker.OpRef `json:"write"`
	NewerToken int64         `json:"newer-token"`
	Newer      checker.OpRef `json:"newer"`
}

// DuplicateToken is a token two acquires returned.
type DuplicateToken struct {
	Key    string        `json:"key,omitempty"`
	Token  int64         `json:"token"`
	First  checker.OpRef `json:"first"`
	Second checker.OpRef `json:"second"`
}

// hold is a Hold in positions.
type hold struct {
	key        string
	proc       histories.Process
	acq        int // pair
	end        int // pair of the release or crashed op, -1 at the end of history
	endedBy    string
	from, to   int // positions: the acquire's completion, the end's invocation (len(h) at the end)
	possiblyTo int // position, len(h) for the end of the history
	token      *int64
}

type keyState struct {
	holds                             []*hold
	acquires, acquired, crashed, rels int
	writes                            int
	overlaps                          []Overlap
	noverlap                          int
	stale                             []StaleToken
	nstale                            int
	dups                              []DuplicateToken
	ndup                              int
	tokens                            map[int64]int // token → the acquire pair that returned it first
	maxDone                           *int64        // newest token of an ok write completed so far
	maxDonePair                       int
	seenAtInvoke                      map[int]tokenAt // write pair → newest completed token when it was invoked
}

type tokenAt struct {
	token int64
	pair  int
}

// Check implements checker.Checker.
func (c *Checker) Check(ctx context.Context, h histories.History) (checker.Result, error) {
	p, err := wl.Pair(h)
	if err != nil {
		return checker.Result{}, err
	}
	tl := wl.NewTimeline(h)
	poll := &wl.Poll{Ctx: ctx}
	states := map[string]*keyState{}
	state := func(k string) *keyState {
		s := states[k]
		if s == nil {
			s = &keyState{tokens: map[int64]int{}, seenAtInvoke: map[int]tokenAt{}}
			states[k] = s
		}
		return s
	}
	end := len(h)

	// Holds, process by process: pairs are in invocation order, so each
	// process's ops come in its own order.
	open := map[histories.Process]map[string]*hold{}
	for i := range p.Pairs {
		if poll.Done() {
			return wl.Interrupted(Name, ctx), nil
		}
		inv := p.Inv(i)
		pr := p.Pairs[i]
		out := p.Outcome(i)
		s := state(inv.Key)
		held := open[inv.Process]
		switch inv.F {
		case "acquire":
			s.acquires++
			switch out {
			case histories.OK:
				s.acquired++
				c := p.Comp(i)
				tok, err := acquireToken(c)
				if err != nil {
					return checker.Result{}, err
				}
				if tok != nil {
					t := *tok
					if first, dup := s.tokens[t]; dup {
						s.ndup++
						if len(s.dups) < wl.MaxListed {
							s.dups = append(s.dups, DuplicateToken{Key: inv.Key, Token: t, First: tl.Ref(p, first, true, true), Second: tl.Ref(p, i, true, true)})
						}
					} else {
						s.tokens[t] = i
					}
				}
				if held == nil {
					held = map[string]*hold{}
					open[inv.Process] = held
				}
				if held[inv.Key] == nil {
					hd := &hold{key: inv.Key, proc: inv.Process, acq: i, end: -1, endedBy: "end of history", from: pr.Complete, to: end, possiblyTo: end, token: tok}
					held[inv.Key] = hd
					s.holds = append(s.holds, hd)
				}
				continue
			case histories.Info:
				s.crashed++
			}
		case "release":
			s.rels++
			if hd := held[inv.Key]; hd != nil {
				hd.end, hd.endedBy, hd.to = i, "release", pr.Invoke
				if out == histories.OK {
					hd.possiblyTo = pr.Complete
				}
				delete(held, inv.Key)
			}
		case "write":
			if out == histories.OK {
				s.writes++
			}
		}
		if out == histories.Info {
			// The process crashed during this op: it was last known to
			// hold its locks when it invoked it.
			for k, hd := range held {
				hd.end, hd.endedBy, hd.to = i, "crash", pr.Invoke
				delete(held, k)
			}
		}
	}

	// Fencing, in history order.
	for pos := range h {
		if poll.Done() {
			return wl.Interrupted(Name, ctx), nil
		}
		pi := int(p.PairAt[pos])
		if pi < 0 {
			continue
		}
		inv := p.Inv(pi)
		if inv.F != "write" {
			continue
		}
		op := &h[pos]
		if op.Type == histories.Invoke {
			tok, err := writeToken(inv)
			if err != nil {
				return checker.Result{}, err
			}
			s := state(inv.Key)
			if tok != nil && s.maxDone != nil && *s.maxDone > *tok && p.Outcome(pi) == histories.OK {
				s.seenAtInvoke[pi] = tokenAt{*s.maxDone, s.maxDonePair}
			}
			continue
		}
		if op.Type != histories.OK {
			continue
		}
		tok, _ := writeToken(inv)
		if tok == nil {
			continue
		}
		s := state(inv.Key)
		if newer, stale := s.seenAtInvoke[pi]; stale {
			delete(s.seenAtInvoke, pi)
			s.nstale++
			if len(s.stale) < wl.MaxListed {
				s.stale = append(s.stale, StaleToken{Key: inv.Key, Token: *tok, Write: tl.Ref(p, pi, true, false), NewerToken: newer.token, Newer: tl.Ref(p, newer.pair, true, false)})
			}
		}
		if s.maxDone == nil || *tok > *s.maxDone {
			t := *tok
			s.maxDone, s.maxDonePair = &t, pi
		}
	}

	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, wl.CompareKeys)
	keyed := len(keys) > 1 || len(keys) == 1 && keys[0] != ""
	var d Details
	if keyed {
		d.Keys = len(keys)
	}
	valid := checker.Valid
	if len(keys) == 0 {
		valid = checker.Unknown
	}
	var why []string
	for _, k := range keys {
		s := states[k]
		overlaps(p, tl, s)
		d.AcquireCount += s.acquires
		d.AcquiredCount += s.acquired
		d.CrashedAcquires += s.crashed
		d.ReleaseCount += s.rels
		d.WriteCount += s.writes
		d.OverlapCount += s.noverlap
		d.Overlaps = append(d.Overlaps, s.overlaps...)
		d.StaleTokenCount += s.nstale
		d.StaleTokens = append(d.StaleTokens, s.stale...)
		d.DuplicateTokenCount += s.ndup
		d.DuplicateTokens = append(d.DuplicateTokens, s.dups...)
		v := checker.Valid
		switch {
		case s.noverlap+s.nstale+s.ndup > 0:
			v = checker.Invalid
		case s.acquired == 0 && s.writes == 0:
			v = checker.Unknown
			why = append(why, wl.KeyPrefix(k)+"no acquire succeeded, so the lock was never certainly held")
		}
		valid = checker.Merge(valid, d.Note(keyed, k, v))
	}
	d.Overlaps = d.Overlaps[:min(len(d.Overlaps), wl.MaxListed)]
	d.StaleTokens = d.StaleTokens[:min(len(d.StaleTokens), wl.MaxListed)]
	d.DuplicateTokens = d.DuplicateTokens[:min(len(d.DuplicateTokens), wl.MaxListed)]

	res := checker.Result{Valid: valid, Details: d}
	var parts []string
	if d.OverlapCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyOverlappingHolders)
		var names []string
		for _, o := range d.Overlaps[:min(len(d.Overlaps), wl.MaxNamed)] {
			names = append(names, wl.KeyPrefix(o.Key)+holdText(o.A, tl)+" while "+holdText(o.B, tl))
		}
		parts = append(parts, fmt.Sprintf("%s of holders: %s", wl.Plural(d.OverlapCount, "overlap", "overlaps"), wl.List(names, d.OverlapCount, wl.MaxNamed)))
	}
	if d.StaleTokenCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyStaleToken)
		var names []string
		for _, st := range d.StaleTokens[:min(len(d.StaleTokens), wl.MaxNamed)] {
			names = append(names, fmt.Sprintf("%sthe write %s with token %d was accepted after the write %s with token %d had completed", wl.KeyPrefix(st.Key), wl.RefText(st.Write, tl), st.Token, wl.RefText(st.Newer, tl), st.NewerToken))
		}
		parts = append(parts, fmt.Sprintf("%s accepted with a stale token: %s", wl.Plural(d.StaleTokenCount, "write", "writes"), wl.List(names, d.StaleTokenCount, wl.MaxNamed)))
	}
	if d.DuplicateTokenCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyDuplicateToken)
		var names []string
		for _, dt := range d.DuplicateTokens[:min(len(d.DuplicateTokens), wl.MaxNamed)] {
			names = append(names, fmt.Sprintf("%stoken %d from the acquires %s and %s", wl.KeyPrefix(dt.Key), dt.Token, wl.RefText(dt.First, tl), wl.RefText(dt.Second, tl)))
		}
		parts = append(parts, fmt.Sprintf("%s returned a token already given: %s", wl.Plural(d.DuplicateTokenCount, "acquire", "acquires"), wl.List(names, d.DuplicateTokenCount, wl.MaxNamed)))
	}
	slices.Sort(res.AnomalyTypes)
	parts = append(parts, why...)
	counts := fmt.Sprintf("%s (%d ok, %d crashed), %s, %s ok", wl.Plural(d.AcquireCount, "acquire", "acquires"), d.AcquiredCount, d.CrashedAcquires, wl.Plural(d.ReleaseCount, "release", "releases"), wl.Plural(d.WriteCount, "write", "writes"))
	if keyed {
		counts = fmt.Sprintf("%d locks, ", d.Keys) + counts
	}
	parts = append(parts, counts)
	res.Summary = strings.Join(parts, ". ")
	return res, nil
}

// acquireToken reads an ok acquire's fencing token: an integer; nil, or
// 0 and below, when the lock gives none.
func acquireToken(c *histories.Op) (*int64, error) {
	if c.Value == nil {
		return nil, nil
	}
	t, ok := wl.Int(c.Value)
	if !ok {
		return nil, wl.Errorf(Name, c, "an acquire returns its fencing token, an integer (or nil), not %s", wl.Shape(c.Value))
	}
	if t <= 0 {
		return nil, nil
	}
	return &t, nil
}

// writeToken reads a protected write's token: its value is [token value],
// and a nil token is a write without one.
func writeToken(inv *histories.Op) (*int64, error) {
	l, ok := inv.Value.([]any)
	if !ok || len(l) != 2 {
		return nil, wl.Errorf(Name, inv, "a protected write's value is [token value], not %s", wl.Shape(inv.Value))
	}
	if l[0] == nil {
		return nil, nil
	}
	t, ok := wl.Int(l[0])
	if !ok {
		return nil, wl.Errorf(Name, inv, "a write's token is an integer (or nil), not %s", wl.Shape(l[0]))
	}
	if t <= 0 {
		return nil, nil
	}
	return &t, nil
}

// overlaps finds every pair of certain holds that overlap: sorted by when
// they began, each hold overlaps the holds begun before it that had not
// ended yet, which a heap by end time keeps. Pairs are counted whole but
// listed up to MaxListed.
func overlaps(p *wl.Paired, tl wl.Timeline, s *keyState) {
	hs := slices.Clone(s.holds)
	slices.SortFunc(hs, func(a, b *hold) int { return cmp.Compare(a.from, b.from) })
	active := &byEnd{}
	for _, b := range hs {
		for active.Len() > 0 && (*active)[0].to < b.from {
			heap.Pop(active)
		}
		// A process's holds never overlap each other (its next acquire
		// completes after its release began), so every active hold is
		// another process's.
		s.noverlap += active.Len()
		for _, a := range *active {
			if len(s.overlaps) == wl.MaxListed {
				break
			}
			s.overlaps = append(s.overlaps, Overlap{Key: b.key, A: a.export(p, tl), B: b.export(p, tl)})
		}
		heap.Push(active, b)
	}
}

// byEnd is a min-heap of holds by the end of their certain hold.
type byEnd []*hold

func (x byEnd) Len() int           { return len(x) }
func (x byEnd) Less(i, j int) bool { return x[i].to < x[j].to }
func (x byEnd) Swap(i, j int)      { x[i], x[j] = x[j], x[i] }
func (x *byEnd) Push(v any)        { *x = append(*x, v.(*hold)) }
func (x *byEnd) Pop() any {
	old := *x
	v := old[len(old)-1]
	*x = old[:len(old)-1]
	return v
}

func (hd *hold) export(p *wl.Paired, tl wl.Timeline) Hold {
	h := p.H
	out := Hold{Key: hd.key, Process: hd.proc, Node: p.Node(hd.acq), Token: hd.token, Acquire: tl.Ref(p, hd.acq, true, true), EndedBy: hd.endedBy}
	out.FromIndex = h[hd.from].Index
	out.From = tl.Seconds(h[hd.from].Time)
	if hd.end >= 0 {
		e := tl.Ref(p, hd.end, true, false)
		out.End = &e
		out.ToIndex = h[hd.to].Index
		out.To = tl.Seconds(h[hd.to].Time)
	} else {
		last := &h[len(h)-1]
		out.ToIndex = last.Index
		out.To = tl.Seconds(last.Time)
	}
	if hd.possiblyTo < len(h) {
		out.PossiblyTo = tl.Seconds(h[hd.possiblyTo].Time)
	} else {
		out.PossiblyTo = tl.Seconds(h[len(h)-1].Time)
	}
	return out
}

// holdText is "process 0 (n1) held it from op 3 (0.002 s) to op 9 (0.008
// s, its release)".
func holdText(hd Hold, tl wl.Timeline) string {
	var b strings.Builder
	fmt.Fprintf(&b, "process %s", hd.Process)
	if hd.Node != "" {
		fmt.Fprintf(&b, " (%s)", hd.Node)
	}
	b.WriteString(" held it")
	if hd.Token != nil {
		fmt.Fprintf(&b, " with token %d", *hd.Token)
	}
	fmt.Fprintf(&b, " from op %d%s", hd.FromIndex, secs(hd.From, tl))
	switch hd.EndedBy {
	case "end of history":
		b.WriteString(" to the end of the history")
	default:
		fmt.Fprintf(&b, " to op %d%s (its %s)", hd.ToIndex, secs(hd.To, tl), hd.EndedBy)
	}
	return b.String()
}

func secs(s *float64, tl wl.Timeline) string {
	if s == nil || tl.Positions {
		return ""
	}
	return fmt.Sprintf(" at %g s", *s)
}
