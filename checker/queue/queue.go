package queue

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/histories"
)

// Names of the checkers in results.json.
const (
	TotalName     = "total-queue"
	UnorderedName = "queue"
)

// Anomaly types.
const (
	AnomalyLost       = "lost"
	AnomalyDuplicated = "duplicated"
	AnomalyUnexpected = "unexpected"
	// AnomalyImpossibleDequeue is the unordered queue's: a dequeue of an
	// element that no enqueue invoked before it completed can explain.
	AnomalyImpossibleDequeue = "impossible-dequeue"
)

// Options configure the total-queue checker.
type Options struct {
	// ExactlyOnce makes a duplicated element (dequeued more often than it
	// was enqueued) invalid. Jepsen's total-queue counts duplicates but
	// allows them, as an at-least-once queue may deliver twice.
	ExactlyOnce bool
}

// Total is Jepsen's total-queue checker. See the package doc.
type Total struct{ opts Options }

// NewTotal returns a total-queue checker.
func NewTotal(opts Options) *Total { return &Total{opts: opts} }

// Name implements checker.Checker.
func (*Total) Name() string { return TotalName }

// Details is the total-queue checker's account in results.json. Counts
// are of elements with their multiplicity, as Jepsen's multisets count;
// the lists hold distinct elements, sorted, at most 100 (a keyed history
// lists [key element] pairs).
type Details struct {
	ExactlyOnce bool `json:"exactly-once"`
	// Keyed: how many keys, and which were invalid or undecided.
	wl.Keyed
	// AttemptCount is how many enqueues were invoked; AcknowledgedCount
	// how many completed ok; DequeuedCount how many elements ok dequeues
	// and drains returned; OKCount how many of those an enqueue was
	// attempted for.
	AttemptCount      int   `json:"attempt-count"`
	AcknowledgedCount int   `json:"acknowledged-count"`
	DequeuedCount     int   `json:"dequeued-count"`
	OKCount           int   `json:"ok-count"`
	LostCount         int   `json:"lost-count"`
	Lost              []any `json:"lost"`
	// LostCertain is how many of the lost elements are certainly lost: the
	// lost count less the dequeues whose outcome is unknown (each may have
	// taken one); 0 when a drain's outcome is unknown.
	LostCertain     int   `json:"lost-certain"`
	DuplicatedCount int   `json:"duplicated-count"`
	Duplicated      []any `json:"duplicated,omitempty"`
	UnexpectedCount int   `json:"unexpected-count"`
	Unexpected      []any `json:"unexpected,omitempty"`
	RecoveredCount  int   `json:"recovered-count"`
	Recovered       []any `json:"recovered,omitempty"`
	// IndeterminateDequeues and IndeterminateDrains are the dequeues and
	// drains that crashed (info, or never completed), dequeues that named
	// the element they tried to take left out.
	IndeterminateDequeues int `json:"indeterminate-dequeues"`
	// PossiblyDequeued counts acknowledged elements never dequeued that a
	// crashed dequeue named as the one it tried to take: not lost.
	PossiblyDequeued    int `json:"possibly-dequeued"`
	IndeterminateDrains int `json:"indeterminate-drains"`
	// Elements explains the first lost, duplicated and unexpected elements
	// (at most 20 of each): their enqueues and dequeues.
	Elements []Element `json:"elements,omitempty"`
}

// Element is one element's story.
type Element struct {
	Key     string `json:"key,omitempty"`
	Element any    `json:"element"`
	// Anomaly is lost, duplicated or unexpected; Count how many copies.
	Anomaly string `json:"anomaly"`
	Count   int    `json:"count"`
	// Why says what makes an unexpected element unexpected: "never
	// enqueued" or "enqueue failed".
	Why string `json:"why,omitempty"`
	// Enqueues and Dequeues are its first ops (at most 5 each); a drain
	// stands for the dequeue of each element it returned.
	Enqueues []checker.OpRef `json:"enqueues,omitempty"`
	Dequeues []checker.OpRef `json:"dequeues,omitempty"`
}

const maxOps = 5

// tally is what happened to one element of one key.
type tally struct {
	v                  any
	attempts, failed   int // invoked enqueues; those that failed
	enqueued, dequeued int
	// maybe counts crashed dequeues that name it as the element they
	// tried to take: it may be gone without a lost element.
	maybe              int
	enqPairs, deqPairs []int32
}

type keyQueue struct {
	key           string
	elems         map[any]*tally
	order         []*tally
	indetDequeues int
	indetDrains   int
	dequeueOK     int // ok dequeues and drains, empty ones included
}

func (q *keyQueue) tally(k any) *tally {
	t := q.elems[k]
	if t == nil {
		t = &tally{v: k}
		q.elems[k] = t
		q.order = append(q.order, t)
	}
	return t
}

// collect reads the queue ops of one key.
func collect(p *wl.Paired, key string, pairs []int, name string, poll *wl.Poll) (*keyQueue, bool, error) {
	q := &keyQueue{key: key, elems: map[any]*tally{}}
	for _, i := range pairs {
		if poll.Done() {
			return nil, false, nil
		}
		inv := p.Inv(i)
		out := p.Outcome(i)
		switch inv.F {
		case "enqueue":
			k, ok := wl.Elem(inv.Value)
			if !ok {
				return nil, false, wl.Errorf(name, inv, "an enqueue's value is the element to enqueue, but it is nil")
			}
			t := q.tally(k)
			t.attempts++
			switch out {
			case histories.Fail:
				t.failed++
			case histories.OK:
				t.enqueued++
			}
			if len(t.enqPairs) < maxOps {
				t.enqPairs = append(t.enqPairs, int32(i))
			}
		case "dequeue":
			switch out {
			case histories.Info:
				// A client that knows which element its crashed dequeue
				// tried to take says so in the completion's value: only
				// that element may be gone.
				if c := p.Comp(i); c != nil {
					if k, ok := wl.Elem(c.Value); ok {
						q.tally(k).maybe++
						continue
					}
				}
				q.indetDequeues++
			case histories.OK:
				q.dequeueOK++
				c := p.Comp(i)
				k, ok := wl.Elem(c.Value)
				if !ok {
					continue // dequeued nothing: the queue was empty
				}
				q.dequeue(k, i)
			}
		case "drain":
			switch out {
			case histories.Info:
				q.indetDrains++
			case histories.OK:
				q.dequeueOK++
				c := p.Comp(i)
				var vs []any
				switch v := c.Value.(type) {
				case []any:
					vs = v
				case nil:
				default:
					return nil, false, wl.Errorf(name, c, "a drain returns the list of elements it dequeued, not %s", wl.Shape(c.Value))
				}
				for _, v := range vs {
					k, ok := wl.Elem(v)
					if !ok {
						return nil, false, wl.Errorf(name, c, "the drain returned nil among its elements")
					}
					q.dequeue(k, i)
				}
			}
		}
	}
	return q, true, nil
}

func (q *keyQueue) dequeue(k any, pair int) {
	t := q.tally(k)
	t.dequeued++
	if len(t.deqPairs) < maxOps {
		t.deqPairs = append(t.deqPairs, int32(pair))
	}
}

// Check implements checker.Checker.
func (c *Total) Check(ctx context.Context, h histories.History) (checker.Result, error) {
	p, err := wl.Pair(h)
	if err != nil {
		return checker.Result{}, err
	}
	tl := wl.NewTimeline(h)
	keys, byKey := p.Groups()
	poll := &wl.Poll{Ctx: ctx}
	keyed := len(keys) > 1 || len(keys) == 1 && keys[0] != ""
	d := Details{ExactlyOnce: c.opts.ExactlyOnce, Lost: []any{}}
	if keyed {
		d.Keys = len(keys)
	}
	valid := checker.Valid
	if len(keys) == 0 {
		valid = checker.Unknown
	}
	type tagged struct {
		key string
		t   *tally
		n   int
	}
	var lost, dup, unexp, recov []tagged
	var why []string
	for _, k := range keys {
		q, ok, err := collect(p, k, byKey[k], TotalName, poll)
		if err != nil {
			return checker.Result{}, err
		}
		if !ok {
			return wl.Interrupted(TotalName, ctx), nil
		}
		var nLost, nDup, nUnexp, nAck, nDeq int
		for _, t := range q.order {
			d.AttemptCount += t.attempts
			nAck += t.enqueued
			nDeq += t.dequeued
			live := t.attempts - t.failed // enqueues that may have happened
			switch {
			case t.dequeued > 0 && live == 0:
				unexp = append(unexp, tagged{k, t, t.dequeued})
				nUnexp += t.dequeued
			default:
				d.OKCount += min(t.dequeued, live)
				if n := t.dequeued - live; n > 0 {
					dup = append(dup, tagged{k, t, n})
					nDup += n
				}
				if n := min(t.dequeued, live) - t.enqueued; n > 0 {
					recov = append(recov, tagged{k, t, n})
				}
			}
			if n := t.enqueued - t.dequeued - t.maybe; n > 0 {
				lost = append(lost, tagged{k, t, n})
				nLost += n
			}
			d.PossiblyDequeued += min(t.maybe, max(0, t.enqueued-t.dequeued))
		}
		d.AcknowledgedCount += nAck
		d.DequeuedCount += nDeq
		d.IndeterminateDequeues += q.indetDequeues
		d.IndeterminateDrains += q.indetDrains
		certain := 0
		if q.indetDrains == 0 {
			certain = max(0, nLost-q.indetDequeues)
		}
		d.LostCertain += certain
		v := checker.Valid
		switch {
		case nUnexp > 0 || certain > 0 || c.opts.ExactlyOnce && nDup > 0:
			v = checker.Invalid
		case nLost > 0:
			v = checker.Unknown
			what := wl.Plural(q.indetDequeues, "dequeue", "dequeues")
			if q.indetDrains > 0 {
				what = wl.Plural(q.indetDrains, "drain", "drains")
			}
			them := "them"
			if nLost == 1 {
				them = "it"
			}
			why = append(why, fmt.Sprintf("%snot certainly lost: %s crashed and may have taken %s", wl.KeyPrefix(k), what, them))
		case nAck == 0 && nDeq == 0:
			v = checker.Unknown
			why = append(why, wl.KeyPrefix(k)+"no enqueue was acknowledged and nothing was dequeued")
		}
		switch v {
		case checker.Invalid:
		case checker.Unknown:
		}
		valid = checker.Merge(valid, d.Note(keyed, k, v))
	}
	byElem := func(a, b tagged) int {
		if c := wl.CompareKeys(a.key, b.key); c != 0 {
			return c
		}
		return wl.CompareElems(a.t.v, b.t.v)
	}
	list := func(ts []tagged) ([]any, int) {
		slices.SortFunc(ts, byElem)
		var out []any
		n := 0
		for i, t := range ts {
			n += t.n
			if i < wl.MaxListed {
				v := wl.ElemValue(t.t.v)
				if keyed {
					v = []any{t.key, v}
				}
				out = append(out, v)
			}
		}
		return out, n
	}
	var l []any
	l, d.LostCount = list(lost)
	if l != nil {
		d.Lost = l
	}
	d.Duplicated, d.DuplicatedCount = list(dup)
	d.Unexpected, d.UnexpectedCount = list(unexp)
	d.Recovered, d.RecoveredCount = list(recov)
	elem := func(t tagged, anomaly string) Element {
		e := Element{Key: t.key, Element: wl.ElemValue(t.t.v), Anomaly: anomaly, Count: t.n}
		for _, i := range t.t.enqPairs {
			e.Enqueues = append(e.Enqueues, tl.Ref(p, int(i), true, false))
		}
		for _, i := range t.t.deqPairs {
			e.Dequeues = append(e.Dequeues, tl.Ref(p, int(i), p.Inv(int(i)).F == "dequeue", true))
		}
		if anomaly == AnomalyUnexpected {
			e.Why = "never enqueued"
			if t.t.attempts > 0 {
				e.Why = "enqueue failed"
			}
		}
		return e
	}
	for _, t := range lost[:min(len(lost), 20)] {
		d.Elements = append(d.Elements, elem(t, AnomalyLost))
	}
	for _, t := range dup[:min(len(dup), 20)] {
		d.Elements = append(d.Elements, elem(t, AnomalyDuplicated))
	}
	for _, t := range unexp[:min(len(unexp), 20)] {
		d.Elements = append(d.Elements, elem(t, AnomalyUnexpected))
	}

	res := checker.Result{Valid: valid, Details: d}
	if d.LostCertain > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyLost)
	}
	if c.opts.ExactlyOnce && d.DuplicatedCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyDuplicated)
	}
	if d.UnexpectedCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyUnexpected)
	}
	slices.Sort(res.AnomalyTypes)

	var parts []string
	name := func(ts []tagged, f func(tagged) string) string {
		var names []string
		for _, t := range ts[:min(len(ts), wl.MaxNamed)] {
			names = append(names, f(t))
		}
		return wl.List(names, len(ts), wl.MaxNamed)
	}
	if d.LostCount > 0 {
		parts = append(parts, fmt.Sprintf("%s lost (acknowledged, never dequeued): %s", wl.Plural(d.LostCount, "element", "elements"), name(lost, func(t tagged) string {
			s := wl.KeyPrefix(t.key) + wl.FormatElem(t.t.v)
			if t.n > 1 {
				s += fmt.Sprintf(" ×%d", t.n)
			}
			return s + " (enqueued " + enqText(p, t.t, tl) + ")"
		})))
	}
	if d.UnexpectedCount > 0 {
		parts = append(parts, fmt.Sprintf("%s dequeued that no enqueue explains: %s", wl.Plural(d.UnexpectedCount, "element", "elements"), name(unexp, func(t tagged) string {
			e := elem(t, AnomalyUnexpected)
			return fmt.Sprintf("%s%s (%s; dequeued by %s)", wl.KeyPrefix(t.key), wl.FormatElem(t.t.v), e.Why, refs(e.Dequeues, tl))
		})))
	}
	if d.DuplicatedCount > 0 {
		what := "allowed: not exactly-once"
		if c.opts.ExactlyOnce {
			what = "the queue claims exactly-once delivery"
		}
		parts = append(parts, fmt.Sprintf("%s duplicated (%s): %s", wl.Plural(d.DuplicatedCount, "element", "elements"), what, name(dup, func(t tagged) string {
			e := elem(t, AnomalyDuplicated)
			return fmt.Sprintf("%s%s dequeued %d times for %s (by %s)", wl.KeyPrefix(t.key), wl.FormatElem(t.t.v), t.t.dequeued, wl.Plural(t.t.attempts-t.t.failed, "enqueue", "enqueues"), refs(e.Dequeues, tl))
		})))
	}
	parts = append(parts, why...)
	counts := fmt.Sprintf("%s attempted (%d acknowledged), %s dequeued: %d ok, %d lost, %d duplicated, %d unexpected, %d recovered", wl.Plural(d.AttemptCount, "enqueue", "enqueues"), d.AcknowledgedCount, wl.Plural(d.DequeuedCount, "element", "elements"), d.OKCount, d.LostCount, d.DuplicatedCount, d.UnexpectedCount, d.RecoveredCount)
	if d.IndeterminateDequeues+d.IndeterminateDrains > 0 {
		counts += fmt.Sprintf("; %s and %s crashed", wl.Plural(d.IndeterminateDequeues, "dequeue", "dequeues"), wl.Plural(d.IndeterminateDrains, "drain", "drains"))
	}
	if keyed {
		counts = fmt.Sprintf("%d keys, ", d.Keys) + counts
	}
	parts = append(parts, counts)
	res.Summary = strings.Join(parts, ". ")
	return res, nil
}

func enqText(p *wl.Paired, t *tally, tl wl.Timeline) string {
	for _, i := range t.enqPairs {
		if p.Outcome(int(i)) == histories.OK {
			return "ok at " + tl.Describe(p.Comp(int(i)))
		}
	}
	return "never ok"
}

func refs(rs []checker.OpRef, tl wl.Timeline) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.F+" "+wl.RefText(r, tl))
	}
	return strings.Join(s, ", ")
}

func sortKeys(ks []string) { slices.SortFunc(ks, wl.CompareKeys) }
