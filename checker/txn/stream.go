package txn

import (
	"context"
	"maps"

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
// For list-append, the stream also builds the dependency graph as the
// transactions are parsed (see onlineGraph), for the options it was
// started with: when the history turns out to have no anomaly, the check
// at the end has nothing left to build, and its cycles (write skew in a
// database that claims snapshot isolation) have been searched for while
// the run went on but in the components that changed since or formed
// last: the verdict takes about as long whatever the history's length.
// Otherwise (an anomaly that is not a cycle, or a check with other
// options) the check at the end builds the graph and searches it as
// offline.
//
// A Stream is not safe for concurrent use: one goroutine adds every op in
// order, then hands it to the check.
type Stream struct {
	workload string
	p        *parser
	g        *onlineGraph              // list-append only
	scope    map[string]bool           // the anomalies g searches for
	open     map[histories.Process]int // process → its open invocation
	retired  map[histories.Process]bool
	queue    []int            // invocations not parsed yet, in order
	done     map[int]int      // invocation → completion, of those queued
	pairs    []histories.Pair // parsed, in order
	buf      decodedTxn
	seen     int   // ops added
	last     int64 // the last op's index
	failed   bool
	// graphUsed: the check at the end was the online graph's, with the
	// searches of graphDone components made while the run went on
	// (tests).
	graphUsed bool
	graphDone int
}

// NewStream starts a stream of a history to be checked with opts, whose
// Workload must be "append" or "rw-register" (nil for another).
func NewStream(opts Options) *Stream {
	w := opts.Workload
	if w != "append" && w != "rw-register" {
		return nil
	}
	s := &Stream{
		workload: w,
		p:        newParser(nil, w, false, nil, 0, 0, 0),
		open:     map[histories.Process]int{},
		retired:  map[histories.Process]bool{},
		done:     map[int]int{},
		last:     -1,
	}
	if c, err := newCheck(nil, opts); err == nil && w == "append" {
		s.g = newOnlineGraph(s.p, c.proc, c.rt, newCycleScope(c.searchScope))
		s.scope = c.searchScope
	}
	return s
}

// Add takes op i of h, the history as recorded so far (h[:i] as before).
func (s *Stream) Add(h histories.History, i int) {
	if s == nil || s.failed {
		return
	}
	op := &h[i]
	// What Pairs refuses, or pairs otherwise, ends the stream: the check
	// at the end is then offline's, which names the error.
	if i != s.seen || op.Index <= s.last {
		s.failed = true
		return
	}
	s.seen, s.last = i+1, op.Index
	switch {
	case op.Process == histories.Nemesis:
		return
	case op.Synthetic:
		s.failed = true
		return
	case op.Type == histories.Invoke:
		if _, ok := s.open[op.Process]; ok || s.retired[op.Process] {
			s.failed = true
			return
		}
		s.open[op.Process] = i
		s.queue = append(s.queue, i)
		return
	case op.Type != histories.OK && op.Type != histories.Fail && op.Type != histories.Info:
		s.failed = true
		return
	}
	inv, ok := s.open[op.Process]
	if !ok || h[inv].F != op.F {
		s.failed = true
		return
	}
	delete(s.open, op.Process)
	if op.Type == histories.Info {
		s.retired[op.Process] = true
	}
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
	if s.g != nil {
		s.g.take()
	}
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
	if opts.Workload == "" {
		opts.Workload = s.workload
	}
	if res, ok, err := s.certified(ctx, h, opts); ok || err != nil {
		return res, err
	}
	pairs, err := histories.Pairs(h, "")
	if err != nil {
		return CheckContext(ctx, h, opts) // whose error names the op
	}
	p, ok := s.finish(h, pairs)
	if !ok {
		return CheckContext(ctx, h, opts)
	}
	return checkParsed(ctx, h, opts, p)
}

// certified is the result of the check of h with opts when the stream's
// graph stands for it (see onlineGraph): h is the whole history the
// stream was given, every transaction in it is parsed, and the graph,
// built for the options' edges, shows no anomaly but cycles, which are
// searched for in the components it found them in. ok is false
// otherwise, the stream left as it was but for the transactions still
// open, now parsed.
func (s *Stream) certified(ctx context.Context, h histories.History, opts Options) (res checker.Result, ok bool, err error) {
	if s.g == nil || s.seen != len(h) {
		return res, false, nil
	}
	c, err := newCheck(h, opts)
	if err != nil {
		return res, false, err
	}
	if c.workload != "append" || s.g.order != (c.proc || c.rt) || s.g.rt != c.rt || !maps.Equal(s.scope, c.searchScope) {
		return res, false, nil
	}
	s.drain(h, true)
	if s.failed || !s.g.certified() {
		return res, false, nil
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	p := s.p
	p.h, p.vals = h, anyValues(h)
	p.release()
	s.failed = true // used once
	rep, d := c.start(&p.parsed)
	d.Txns, d.Edges = s.g.counts, s.g.edges
	cg, comps, global, done := s.g.components()
	s.g, s.graphUsed, s.graphDone = nil, true, len(done)
	searchComponents(ctx, &p.parsed, cg, comps, rep, appendExplainer{&p.parsed}, d, c.searchScope, global, done...)
	return result(rep, d, c.model, c.inScope), true, nil
}
