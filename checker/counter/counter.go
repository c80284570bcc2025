package counter

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
const Name = "counter"

// Anomaly types: a read below the sum of the adds acknowledged before it
// began, or above the sum of the adds attempted before it completed.
const (
	AnomalyTooLow  = "counter-too-low"
	AnomalyTooHigh = "counter-too-high"
)

// Checker is Jepsen's counter checker. See the package doc.
type Checker struct{}

// New returns a counter checker.
func New() *Checker { return &Checker{} }

// Name implements checker.Checker.
func (*Checker) Name() string { return Name }

// Details is the counter checker's account in results.json.
type Details struct {
	// Keyed: how many keys, and which were invalid or undecided.
	wl.Keyed
	// AddCount is how many adds were invoked (AcknowledgedCount completed
	// ok); ReadCount how many reads completed ok.
	AddCount          int `json:"add-count"`
	AcknowledgedCount int `json:"acknowledged-count"`
	ReadCount         int `json:"read-count"`
	// ErrorCount is how many ok reads fell outside their bounds; Errors
	// lists the first 100.
	ErrorCount   int         `json:"error-count"`
	TooLowCount  int         `json:"too-low-count"`
	TooHighCount int         `json:"too-high-count"`
	Errors       []ReadError `json:"errors"`
	// MaxAbsoluteError is the read furthest outside its bounds.
	MaxAbsoluteError *ReadError `json:"max-absolute-error,omitempty"`
	// Final is each key's last ok read with its bounds (the key "" for a
	// history without keys).
	Final []ReadError `json:"final,omitempty"`
}

// ReadError is an ok read with its bounds: Lower, the sum of the adds
// that completed ok before the read was invoked; Upper, the sum of the
// adds invoked before the read completed that did not fail. Off is how
// far outside them the value is (negative below, positive above, 0
// within).
type ReadError struct {
	Key   string        `json:"key,omitempty"`
	Lower int64         `json:"lower"`
	Value int64         `json:"value"`
	Upper int64         `json:"upper"`
	Off   int64         `json:"off"`
	Read  checker.OpRef `json:"read"`
}

type keyState struct {
	key          string
	lower, upper int64
	adds, acked  int
	reads        int
	errors       []ReadError
	nerr         int
	low, high    int
	worst        *ReadError
	final        *ReadError
}

// Check implements checker.Checker.
func (c *Checker) Check(ctx context.Context, h histories.History) (checker.Result, error) {
	p, err := wl.Pair(h)
	if err != nil {
		return checker.Result{}, err
	}
	tl := wl.NewTimeline(h)
	states := map[string]*keyState{}
	state := func(k string) *keyState {
		s := states[k]
		if s == nil {
			s = &keyState{key: k}
			states[k] = s
		}
		return s
	}
	// readLower holds each pending read's lower bound, by pair.
	readLower := map[int32]int64{}
	poll := &wl.Poll{Ctx: ctx}
	for pos := range h {
		if poll.Done() {
			return wl.Interrupted(Name, ctx), nil
		}
		pi := p.PairAt[pos]
		if pi < 0 {
			continue
		}
		op := &h[pos]
		inv := p.Inv(int(pi))
		s := state(inv.Key)
		out := p.Outcome(int(pi))
		switch inv.F {
		case "add":
			n, ok := wl.Int(inv.Value)
			if !ok {
				return checker.Result{}, wl.Errorf(Name, inv, "an add's value is the integer to add, not %s", wl.Shape(inv.Value))
			}
			if n < 0 {
				return checker.Result{}, wl.Errorf(Name, inv, "add of %d: the counter checker takes increments only (Jepsen's counter assumes the value never decreases)", n)
			}
			if op.Type == histories.Invoke {
				s.adds++
				if out != histories.Fail {
					s.upper += n
				}
			} else if op.Type == histories.OK {
				s.acked++
				s.lower += n
			}
		case "read":
			if out != histories.OK {
				continue
			}
			if op.Type == histories.Invoke {
				readLower[pi] = s.lower
				continue
			}
			v, ok := wl.Int(op.Value)
			if !ok {
				return checker.Result{}, wl.Errorf(Name, op, "a read returns the counter's value, an integer, not %s", wl.Shape(op.Value))
			}
			s.reads++
			re := ReadError{Key: inv.Key, Lower: readLower[pi], Value: v, Upper: s.upper, Read: tl.Ref(p, int(pi), true, true)}
			delete(readLower, pi)
			switch {
			case v < re.Lower:
				re.Off = v - re.Lower
				s.low++
			case v > re.Upper:
				re.Off = v - re.Upper
				s.high++
			}
			s.final = &re
			if re.Off != 0 {
				s.nerr++
				if len(s.errors) < wl.MaxListed {
					s.errors = append(s.errors, re)
				}
				if s.worst == nil || abs(re.Off) > abs(s.worst.Off) {
					s.worst = &re
				}
			}
		}
	}
	return merge(states, tl), nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func merge(states map[string]*keyState, tl wl.Timeline) checker.Result {
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, wl.CompareKeys)
	keyed := len(keys) > 1 || len(keys) == 1 && keys[0] != ""
	d := Details{Errors: []ReadError{}}
	if keyed {
		d.Keys = len(keys)
	}
	valid := checker.Valid
	if len(keys) == 0 {
		valid = checker.Unknown
	}
	var unknown []string
	for _, k := range keys {
		s := states[k]
		d.AddCount += s.adds
		d.AcknowledgedCount += s.acked
		d.ReadCount += s.reads
		d.ErrorCount += s.nerr
		d.TooLowCount += s.low
		d.TooHighCount += s.high
		d.Errors = append(d.Errors, s.errors...)
		if s.worst != nil && (d.MaxAbsoluteError == nil || abs(s.worst.Off) > abs(d.MaxAbsoluteError.Off)) {
			d.MaxAbsoluteError = s.worst
		}
		if s.final != nil {
			d.Final = append(d.Final, *s.final)
		}
		v := checker.Valid
		switch {
		case s.nerr > 0:
			v = checker.Invalid
		case s.reads == 0:
			v = checker.Unknown
			unknown = append(unknown, wl.KeyPrefix(k)+"no read completed ok, so nothing says what the counter held")
		}
		valid = checker.Merge(valid, d.Note(keyed, k, v))
	}
	slices.SortStableFunc(d.Errors, func(a, b ReadError) int { return int(a.Read.Index - b.Read.Index) })
	d.Errors = d.Errors[:min(len(d.Errors), wl.MaxListed)]

	res := checker.Result{Valid: valid, Details: d}
	if d.TooLowCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyTooLow)
	}
	if d.TooHighCount > 0 {
		res.AnomalyTypes = append(res.AnomalyTypes, AnomalyTooHigh)
	}
	var parts []string
	if d.ErrorCount > 0 {
		var names []string
		for _, e := range d.Errors[:min(len(d.Errors), wl.MaxNamed)] {
			where := "below"
			if e.Off > 0 {
				where = "above"
			}
			names = append(names, fmt.Sprintf("%sthe read %s returned %d, %s its bounds [%d, %d]", wl.KeyPrefix(e.Key), wl.RefText(e.Read, tl), e.Value, where, e.Lower, e.Upper))
		}
		parts = append(parts, fmt.Sprintf("%s out of bounds (%d too low, %d too high): %s", wl.Plural(d.ErrorCount, "read", "reads"), d.TooLowCount, d.TooHighCount, wl.List(names, d.ErrorCount, wl.MaxNamed)))
	}
	if valid == checker.Unknown {
		parts = append(parts, wl.List(unknown, len(unknown), 3))
	}
	counts := fmt.Sprintf("%s (%d acknowledged), %s", wl.Plural(d.AddCount, "add", "adds"), d.AcknowledgedCount, wl.Plural(d.ReadCount, "read", "reads"))
	if keyed {
		counts = fmt.Sprintf("%d keys, ", d.Keys) + counts
	}
	if len(d.Final) == 1 {
		f := d.Final[0]
		counts += fmt.Sprintf("; the last read returned %d within [%d, %d]", f.Value, f.Lower, f.Upper)
		if f.Off != 0 {
			counts = strings.Replace(counts, "within", "outside", 1)
		}
	}
	parts = append(parts, counts)
	res.Summary = strings.Join(parts, ". ")
	return res
}
