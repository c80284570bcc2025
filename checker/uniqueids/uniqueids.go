package uniqueids

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/histories"
)

// Name is the checker's key in results.json.
const Name = "unique-ids"

// AnomalyDuplicateID is two ok generates returning the same id.
const AnomalyDuplicateID = "duplicate-id"

// Checker is Jepsen's unique-ids checker. See the package doc.
type Checker struct{}

// New returns a unique-ids checker.
func New() *Checker { return &Checker{} }

// Name implements checker.Checker.
func (*Checker) Name() string { return Name }

// Details is the unique-ids checker's account in results.json (Jepsen's
// keys).
type Details struct {
	// Keyed: how many keys, and which were invalid or undecided.
	wl.Keyed
	// AttemptedCount is how many generates were invoked,
	// AcknowledgedCount how many returned an id.
	AttemptedCount    int `json:"attempted-count"`
	AcknowledgedCount int `json:"acknowledged-count"`
	// DuplicatedCount is how many ids were returned more than once;
	// Duplicated the 48 returned most often (Jepsen's), with the ops that
	// returned them.
	DuplicatedCount int         `json:"duplicated-count"`
	Duplicated      []Duplicate `json:"duplicated"`
	// Range is the lowest and the highest id returned (absent when none
	// was).
	Range []any `json:"range,omitempty"`
}

// Duplicate is an id returned Count times; Ops are the first of the ops
// that returned it (at most 5).
type Duplicate struct {
	Key   string          `json:"key,omitempty"`
	ID    any             `json:"id"`
	Count int             `json:"count"`
	Ops   []checker.OpRef `json:"ops"`
}

const maxDuplicates = 48

type seen struct {
	n     int
	pairs []int32
}

// Check implements checker.Checker.
func (*Checker) Check(ctx context.Context, h histories.History) (checker.Result, error) {
	p, err := wl.Pair(h)
	if err != nil {
		return checker.Result{}, err
	}
	tl := wl.NewTimeline(h)
	keys, byKey := p.Groups()
	poll := &wl.Poll{Ctx: ctx}
	keyed := len(keys) > 1 || len(keys) == 1 && keys[0] != ""
	d := Details{Duplicated: []Duplicate{}}
	if keyed {
		d.Keys = len(keys)
	}
	valid := checker.Valid
	if len(keys) == 0 {
		valid = checker.Unknown
	}
	var lo, hi any
	var dups []Duplicate
	var why []string
	for _, k := range keys {
		ids := map[any]*seen{}
		var order []any
		acked := 0
		for _, i := range byKey[k] {
			if poll.Done() {
				return wl.Interrupted(Name, ctx), nil
			}
			inv := p.Inv(i)
			if inv.F != "generate" {
				continue
			}
			d.AttemptedCount++
			if p.Outcome(i) != histories.OK {
				continue
			}
			c := p.Comp(i)
			id, ok := wl.Elem(c.Value)
			if !ok {
				return checker.Result{}, wl.Errorf(Name, c, "an ok generate returns the id it generated, but it returned nil")
			}
			acked++
			s := ids[id]
			if s == nil {
				s = &seen{}
				ids[id] = s
				order = append(order, id)
			}
			s.n++
			if len(s.pairs) < 5 {
				s.pairs = append(s.pairs, int32(i))
			}
			if lo == nil || wl.CompareElems(id, lo) < 0 {
				lo = id
			}
			if hi == nil || wl.CompareElems(id, hi) > 0 {
				hi = id
			}
		}
		d.AcknowledgedCount += acked
		n := 0
		for _, id := range order {
			s := ids[id]
			if s.n < 2 {
				continue
			}
			n++
			dup := Duplicate{Key: k, ID: wl.ElemValue(id), Count: s.n}
			for _, pi := range s.pairs {
				dup.Ops = append(dup.Ops, tl.Ref(p, int(pi), true, true))
			}
			dups = append(dups, dup)
		}
		d.DuplicatedCount += n
		v := checker.Valid
		switch {
		case n > 0:
			v = checker.Invalid
		case acked == 0:
			v = checker.Unknown
			why = append(why, wl.KeyPrefix(k)+"no generate returned an id")
		}
		valid = checker.Merge(valid, d.Note(keyed, k, v))
	}
	// The ids returned most often first, as Jepsen's; then by id.
	slices.SortStableFunc(dups, func(a, b Duplicate) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if c := wl.CompareKeys(a.Key, b.Key); c != 0 {
			return c
		}
		return wl.CompareElems(a.ID, b.ID)
	})
	d.Duplicated = append(d.Duplicated, dups[:min(len(dups), maxDuplicates)]...)
	if lo != nil {
		d.Range = []any{wl.ElemValue(lo), wl.ElemValue(hi)}
	}
	res := checker.Result{Valid: valid, Details: d}
	var parts []string
	if d.DuplicatedCount > 0 {
		res.AnomalyTypes = []string{AnomalyDuplicateID}
		var names []string
		for _, dup := range d.Duplicated[:min(len(d.Duplicated), wl.MaxNamed)] {
			var ops []string
			for _, r := range dup.Ops {
				ops = append(ops, wl.RefText(r, tl))
			}
			names = append(names, fmt.Sprintf("%s%s %d times (%s)", wl.KeyPrefix(dup.Key), histories.FormatValue(dup.ID), dup.Count, strings.Join(ops, ", ")))
		}
		parts = append(parts, fmt.Sprintf("%s generated more than once: %s", wl.Plural(d.DuplicatedCount, "id", "ids"), wl.List(names, d.DuplicatedCount, wl.MaxNamed)))
	}
	parts = append(parts, why...)
	counts := fmt.Sprintf("%s attempted, %d acknowledged", wl.Plural(d.AttemptedCount, "generate", "generates"), d.AcknowledgedCount)
	if d.Range != nil {
		counts += fmt.Sprintf(", ids from %s to %s", histories.FormatValue(d.Range[0]), histories.FormatValue(d.Range[1]))
	}
	if keyed {
		counts = fmt.Sprintf("%d keys, ", d.Keys) + counts
	}
	parts = append(parts, counts)
	res.Summary = strings.Join(parts, ". ")
	return res, nil
}
