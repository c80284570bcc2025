package txn

import (
	"context"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// Stream parses a transactional history while it is being recorded
// (faultline run's online check), so that the check at the end of a run
// starts from the parsed transactions (keys and values interned, each
// key's elements, writers and version order as far as the reads have
// shown it) and has only the graph and the search left to do.
//
// Transactions are parsed in invocation order, as the offline check does,
// each once it and every transaction invoked before it have completed: a
// transaction is parsed at most as long after its completion as the
// longest operation in flight then takes. The outcome is exactly the
// offline parse's: CheckStreamContext uses it only when the stream paired
// the history's ops as histories.Pairs does, and parses the history
// afresh otherwise (and whenever the stream gave up: a history the fast
// parse cannot take, such as non-integer values, or one Pairs would
// refuse, whose error the offline parse then names).
//
// A Stream is not safe for concurrent use: one goroutine adds every op in
// order, then hands it to the check.
type Stream struct {
	workload string
	p        *parser
	open     map[histories.Process]int // process → its open invocation
	queue    []int                     // invocations not parsed yet, in order
	done     map[int]int               // invocation → completion, of those queued
	pairs    []histories.Pair          // parsed, in order
	buf      decodedTxn
	failed   bool
}

// NewStream starts a stream of a workload's history: "append" or
// "rw-register" (nil for another).
func NewStream(workload string) *Stream {
	if workload != "append" && workload != "rw-register" {
		return nil
	}
	return &Stream{
		workload: workload,
		p:        newParser(nil, workload, false, nil, 0, 0, 0),
		open:     map[histories.Process]int{},
		done:     map[int]int{},
	}
}

// Add takes op i of h, the history as recorded so far (h[:i] as before).
func (s *Stream) Add(h histories.History, i int) {
	if s == nil || s.failed {
		return
	}
	op := &h[i]
	switch {
	case op.Process == histories.Nemesis:
		return
	case op.Synthetic:
		s.failed = true
		return
	case op.Type == histories.Invoke:
		if _, ok := s.open[op.Process]; ok {
			s.failed = true // Pairs refuses it
			return
		}
		s.open[op.Process] = i
		s.queue = append(s.queue, i)
		return
	}
	inv, ok := s.open[op.Process]
	if !ok {
		s.failed = true
		return
	}
	delete(s.open, op.Process)
	s.done[inv] = i
	s.drain(h, false)
}

// Parsed is how many transactions s has parsed so far; 0 if it gave up
// (or its parse was used).
func (s *Stream) Parsed() int {
	if s == nil || s.failed {
		return 0
	}
	return len(s.pairs)
}

// drain parses the queued transactions whose turn has come: each that has
// completed and follows none that has not; with all, the open ones too.
func (s *Stream) drain(h histories.History, all bool) {
	n := 0
	for _, inv := range s.queue {
		comp, ok := s.done[inv]
		if !ok {
			if !all {
				break
			}
			comp = histories.Open
		}
		delete(s.done, inv)
		n++
		if !s.failed {
			s.parse(h, histories.Pair{Invoke: inv, Complete: comp})
		}
	}
	s.queue = s.queue[n:]
	if len(s.queue) == 0 {
		s.queue = s.queue[:0:0] // let the backing array go
	}
}

// parse parses one transaction, as parseWith does.
func (s *Stream) parse(h histories.History, pr histories.Pair) {
	p, d := s.p, &s.buf
	p.h, p.vals = h, anyValues(h)
	at, ok := pr.Invoke, h.Outcome(pr) == histories.OK
	if ok {
		at = pr.Complete
	}
	d.ok = p.vals.mops(at, &d.cur)
	d.hasInv = false
	if d.ok && ok {
		d.hasInv = p.vals.mops(pr.Invoke, &d.inv)
	}
	if err := p.txn(pr, d); err != nil {
		s.failed = true // the offline parse names the error, or interns
		return
	}
	s.pairs = append(s.pairs, pr)
}

// finish parses what is left of h, the whole history, and returns the
// parsed history if it is the one parse(h) would give: pairs are h's.
func (s *Stream) finish(h histories.History, pairs []histories.Pair) (*parsed, bool) {
	if s == nil || s.failed {
		return nil, false
	}
	s.drain(h, true)
	if s.failed || len(s.pairs) != len(pairs) {
		return nil, false
	}
	for i := range pairs {
		if s.pairs[i] != pairs[i] {
			return nil, false
		}
	}
	p := s.p
	p.h, p.vals = h, anyValues(h)
	if s.workload == "append" {
		if err := p.settleOrders(); err != nil {
			return nil, false
		}
	}
	p.release()
	s.failed = true // used once
	return &p.parsed, true
}

// CheckStreamContext is CheckContext of h, the history s was given op by
// op, starting from what s parsed while it was recorded (see Stream); a
// nil s, or one that could not follow h, makes it CheckContext.
func CheckStreamContext(ctx context.Context, h histories.History, s *Stream, opts Options) (checker.Result, error) {
	if s == nil || s.failed || (opts.Workload != "" && opts.Workload != s.workload) {
		return CheckContext(ctx, h, opts)
	}
	pairs, err := histories.Pairs(h, "")
	if err != nil {
		return CheckContext(ctx, h, opts) // whose error names the op
	}
	p, ok := s.finish(h, pairs)
	if !ok {
		return CheckContext(ctx, h, opts)
	}
	if opts.Workload == "" {
		opts.Workload = s.workload
	}
	return checkParsed(ctx, h, opts, p)
}
