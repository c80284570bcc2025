package histories

import "fmt"

// History is a sequence of operations in the order they happened.
type History []Op

// Open is the Complete of a Pair whose invocation never completed.
const Open = -1

// Pair ties a client invocation to its completion, as indexes into a History.
// Complete is Open when the history ended before the op completed; such an op
// is treated like one that completed with info.
type Pair struct {
	Invoke   int
	Complete int
}

// Pairs validates h and pairs every client invocation with its completion,
// in invocation order. Nemesis ops are not paired. file names the source in
// errors and may be empty.
//
// It rejects: a second invoke by a process before the first completed; a
// completion with no invoke; a retired process (its op ended in info) that
// invokes again; indexes that do not increase; a completion whose f differs
// from its invocation's. Synthetic invocations (see Op.Synthetic) are the
// exception to the first rule: a process may hold several open, and its
// completions take them in order.
func Pairs(h History, file string) ([]Pair, error) {
	pr := NewPairer(file, len(h)/2+1)
	for i := range h {
		if err := pr.Add(h, i); err != nil {
			return nil, err
		}
	}
	return pr.Pairs(), nil
}

// A Pairer is Pairs op by op, for a history as it is recorded: Add each
// op in order, then Pairs. After an error it takes nothing more.
type Pairer struct {
	file  string
	pairs []Pair
	// pending maps a process to the index into pairs of its open invoke.
	pending map[Process]int
	retired map[Process]int
	// queued holds each process's open synthetic invokes, oldest first.
	queued    map[Process][]int
	lastIndex int64
	err       error
}

// NewPairer starts pairing a history from file (for errors; may be
// empty), with room for n pairs.
func NewPairer(file string, n int) *Pairer {
	return &Pairer{file: file, pairs: make([]Pair, 0, n), pending: make(map[Process]int, 64), retired: make(map[Process]int), lastIndex: -1}
}

// Err is the error of the first op that could not be paired, if any.
func (pr *Pairer) Err() error { return pr.err }

// Pairs are the pairs of the ops added so far, in invocation order.
func (pr *Pairer) Pairs() []Pair { return pr.pairs }

// Add takes op i of h, h[:i] having been added before.
func (pr *Pairer) Add(h History, i int) error {
	if pr.err == nil {
		pr.err = pr.add(h, i)
	}
	return pr.err
}

func (pr *Pairer) add(h History, i int) error {
	file, pending, retired := pr.file, pr.pending, pr.retired
	op := &h[i]
	line := int(op.Line)
	if line == 0 {
		line = i + 1
	}
	if op.Index <= pr.lastIndex {
		return errAt(file, line, "index %d does not increase (previous op had index %d)", op.Index, pr.lastIndex)
	}
	pr.lastIndex = op.Index
	if op.Process == Nemesis {
		return nil
	}
	switch op.Type {
	case Invoke:
		if op.Synthetic {
			if pr.queued == nil {
				pr.queued = make(map[Process][]int)
			}
			pr.queued[op.Process] = append(pr.queued[op.Process], len(pr.pairs))
			pr.pairs = append(pr.pairs, Pair{Invoke: i, Complete: Open})
			return nil
		}
		if pr.queued != nil && len(pr.queued[op.Process]) > 0 {
			q := pr.queued[op.Process]
			return errAt(file, line, "process %s invoked %s while its %s from line %d has not completed", op.Process, op.F, h[pr.pairs[q[0]].Invoke].F, lineOf(h, pr.pairs[q[0]].Invoke))
		}
		if p, ok := pending[op.Process]; ok {
			return errAt(file, line, "process %s invoked %s while its %s from line %d has not completed", op.Process, op.F, h[pr.pairs[p].Invoke].F, lineOf(h, pr.pairs[p].Invoke))
		}
		if r, ok := retired[op.Process]; ok {
			return errAt(file, line, "process %s invoked %s after its op at line %d ended in info; a crashed process must continue under a new process id", op.Process, op.F, lineOf(h, r))
		}
		pending[op.Process] = len(pr.pairs)
		pr.pairs = append(pr.pairs, Pair{Invoke: i, Complete: Open})
	case OK, Fail, Info:
		p, ok := pending[op.Process]
		fromQueue := false
		if !ok && pr.queued != nil {
			if q := pr.queued[op.Process]; len(q) > 0 {
				p, ok, fromQueue = q[0], true, true
			}
		}
		if !ok {
			return errAt(file, line, "process %s completed %s (%s) with no invoke before it", op.Process, op.F, op.Type)
		}
		inv := &h[pr.pairs[p].Invoke]
		if op.F != inv.F {
			return errAt(file, line, "process %s completed %s but invoked %s at line %d", op.Process, op.F, inv.F, lineOf(h, pr.pairs[p].Invoke))
		}
		if fromQueue {
			pr.queued[op.Process] = pr.queued[op.Process][1:]
		} else {
			delete(pending, op.Process)
		}
		pr.pairs[p].Complete = i
		if op.Type == Info {
			retired[op.Process] = i
		}
	default:
		return errAt(file, line, "unknown op type %d", op.Type)
	}
	return nil
}

func lineOf(h History, i int) int {
	if h[i].Line != 0 {
		return int(h[i].Line)
	}
	return i + 1
}

// Outcome is the completion type of a pair: OK, Fail or Info (Info for an op
// that never completed).
func (h History) Outcome(p Pair) Type {
	if p.Complete == Open {
		return Info
	}
	return h[p.Complete].Type
}

// Renumber sets every op's Index to its position, for formats that carry no
// index.
func (h History) Renumber() {
	for i := range h {
		h[i].Index = int64(i)
	}
}

func (h History) String() string { return fmt.Sprintf("history of %d ops", len(h)) }

// Semantics is the reading h's ops were recorded for: that of its first
// client op, SemanticsFaultline when it says nothing (or h has no client
// op). The readers mark all of a file's ops alike.
func (h History) Semantics() Semantics {
	for i := range h {
		if h[i].Process != Nemesis {
			if s := h[i].Semantics; s != SemanticsUnset {
				return s
			}
			break
		}
	}
	return SemanticsFaultline
}

// SetSemantics marks every op of h with s: how a caller (faultline check's
// --semantics) overrides what the reader decided.
func (h History) SetSemantics(s Semantics) {
	for i := range h {
		h[i].Semantics = s
	}
}
