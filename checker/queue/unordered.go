package queue

import (
	"context"
	"fmt"
	"strings"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/histories"
)

// Unordered is Jepsen's queue checker with its unordered-queue model:
// every dequeue must come from somewhere. See the package doc.
type Unordered struct{}

// NewUnordered returns the unordered queue checker.
func NewUnordered() *Unordered { return &Unordered{} }

// Name implements checker.Checker.
func (*Unordered) Name() string { return UnorderedName }

// UnorderedDetails is the unordered queue checker's account in
// results.json.
type UnorderedDetails struct {
	// Keyed: how many keys, and which were invalid or undecided.
	wl.Keyed
	// EnqueueCount is how many enqueues were invoked and did not fail;
	// DequeuedCount how many elements ok dequeues and drains returned;
	// Remaining how many enqueued elements no dequeue took (Jepsen's
	// :final-queue, counted).
	EnqueueCount    int `json:"enqueue-count"`
	DequeuedCount   int `json:"dequeued-count"`
	Remaining       int `json:"remaining"`
	ImpossibleCount int `json:"impossible-count"`
	// Impossible lists the first 100 dequeues that no enqueue explains.
	Impossible []Impossible `json:"impossible,omitempty"`
}

// Impossible is a dequeue of an element that was not in the queue: every
// enqueue of it invoked before the dequeue completed had been dequeued
// already (Enqueued of them), or there was none.
type Impossible struct {
	Key      string        `json:"key,omitempty"`
	Element  any           `json:"element"`
	Enqueued int           `json:"enqueued"`
	Dequeue  checker.OpRef `json:"dequeue"`
}

// Check implements checker.Checker.
func (*Unordered) Check(ctx context.Context, h histories.History) (checker.Result, error) {
	p, err := wl.Pair(h)
	if err != nil {
		return checker.Result{}, err
	}
	tl := wl.NewTimeline(h)
	type keyState struct {
		queue      map[any]int
		enqueued   map[any]int
		dequeues   int // ok dequeues and drains
		impossible int
	}
	states := map[string]*keyState{}
	var d UnorderedDetails
	poll := &wl.Poll{Ctx: ctx}
	take := func(s *keyState, key string, k any, pi int) {
		d.DequeuedCount++
		if s.queue[k] > 0 {
			s.queue[k]--
			return
		}
		s.impossible++
		d.ImpossibleCount++
		if len(d.Impossible) < wl.MaxListed {
			d.Impossible = append(d.Impossible, Impossible{Key: key, Element: wl.ElemValue(k), Enqueued: s.enqueued[k], Dequeue: tl.Ref(p, pi, p.Inv(pi).F == "dequeue", true)})
		}
	}
	for pos := range h {
		if poll.Done() {
			return wl.Interrupted(UnorderedName, ctx), nil
		}
		pi := int(p.PairAt[pos])
		if pi < 0 {
			continue
		}
		op := &h[pos]
		inv := p.Inv(pi)
		s := states[inv.Key]
		if s == nil {
			s = &keyState{queue: map[any]int{}, enqueued: map[any]int{}}
			states[inv.Key] = s
		}
		switch {
		case inv.F == "enqueue" && op.Type == histories.Invoke:
			k, ok := wl.Elem(inv.Value)
			if !ok {
				return checker.Result{}, wl.Errorf(UnorderedName, inv, "an enqueue's value is the element to enqueue, but it is nil")
			}
			if p.Outcome(pi) != histories.Fail {
				s.queue[k]++
				s.enqueued[k]++
				d.EnqueueCount++
			}
		case inv.F == "dequeue" && op.Type == histories.OK:
			s.dequeues++
			if k, ok := wl.Elem(op.Value); ok {
				take(s, inv.Key, k, pi)
			}
		case inv.F == "drain" && op.Type == histories.OK:
			s.dequeues++
			var vs []any
			switch v := op.Value.(type) {
			case []any:
				vs = v
			case nil:
			default:
				return checker.Result{}, wl.Errorf(UnorderedName, op, "a drain returns the list of elements it dequeued, not %s", wl.Shape(op.Value))
			}
			for _, v := range vs {
				k, ok := wl.Elem(v)
				if !ok {
					return checker.Result{}, wl.Errorf(UnorderedName, op, "the drain returned nil among its elements")
				}
				take(s, inv.Key, k, pi)
			}
		}
	}
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sortKeys(keys)
	keyed := len(keys) > 1 || len(keys) == 1 && keys[0] != ""
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
		for _, n := range s.queue {
			d.Remaining += n
		}
		v := checker.Valid
		switch {
		case s.impossible > 0:
			v = checker.Invalid
		case s.dequeues == 0:
			v = checker.Unknown
			why = append(why, wl.KeyPrefix(k)+"no dequeue or drain completed ok")
		}
		valid = checker.Merge(valid, d.Note(keyed, k, v))
	}
	res := checker.Result{Valid: valid, Details: d}
	var parts []string
	if d.ImpossibleCount > 0 {
		res.AnomalyTypes = []string{AnomalyImpossibleDequeue}
		var names []string
		for _, x := range d.Impossible[:min(len(d.Impossible), wl.MaxNamed)] {
			why := "no enqueue of it had begun"
			if x.Enqueued > 0 {
				why = fmt.Sprintf("dequeued already as often as enqueues of it had begun: %d", x.Enqueued)
			}
			names = append(names, fmt.Sprintf("%s%s by %s %s (%s)", wl.KeyPrefix(x.Key), histories.FormatValue(x.Element), x.Dequeue.F, wl.RefText(x.Dequeue, tl), why))
		}
		parts = append(parts, fmt.Sprintf("%s of elements not in the queue: %s", wl.Plural(d.ImpossibleCount, "dequeue", "dequeues"), wl.List(names, d.ImpossibleCount, wl.MaxNamed)))
	}
	parts = append(parts, why...)
	counts := fmt.Sprintf("%s, %s dequeued, %d left in the queue", wl.Plural(d.EnqueueCount, "enqueue", "enqueues"), wl.Plural(d.DequeuedCount, "element", "elements"), d.Remaining)
	if keyed {
		counts = fmt.Sprintf("%d keys, ", d.Keys) + counts
	}
	parts = append(parts, counts)
	res.Summary = strings.Join(parts, ". ")
	return res, nil
}
