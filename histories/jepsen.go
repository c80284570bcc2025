package histories

// What the readers of Jepsen's formats (ReadEDN, ReadJepsenLog) do to the
// ops they read, so that histories written by Jepsen, Elle and Knossos read
// as their own tools read them, where the meaning is unambiguous:
//
//   - every op is marked SemanticsKnossos (see History.Semantics);
//   - an op with no :f whose value is a list of micro-ops is a txn, and so is
//     one tagged :read or :write whose invocation's value is a list of
//     micro-ops (Jepsen tags read-only and write-only transactions so, for
//     its plots; Elle reads only the value);
//   - in a txn, a read micro-op written [:r k] is [:r k nil], and a key that
//     is a vector or a map is named by its text, [1 2] or {"a":1};
//   - a history of completions only, as Elle's tests write them, gets an
//     invocation for each completion (see synthesizeInvocations);
//   - ops with no :process (Elle's tests again) get a process each, which
//     only a history of completions can use: an invocation must be paired.

import (
	"slices"
)

// noProcess is the Process of an op read without one, until
// finishJepsen gives it one.
const noProcess Process = -2

// microOpFs are the micro-op functions of Jepsen's transactions (Elle's
// r, w and append) and of Knossos' multi-register (read, write).
func isMicroOpF(v any) bool {
	switch v {
	case "r", "w", "append", "read", "write":
		return true
	}
	return false
}

// isMicroOps reports whether v is a non-empty list of micro-ops, [f k v] or
// [f k], with f one of microOpFs.
func isMicroOps(v any) bool {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return false
	}
	for _, m := range list {
		mop, ok := m.([]any)
		if !ok || len(mop) < 2 || len(mop) > 3 || !isMicroOpF(mop[0]) {
			return false
		}
	}
	return true
}

// normalizeTxn rewrites a txn's micro-ops in place: [:r k] becomes
// [:r k nil], and a key that is a list or a map becomes its text.
func normalizeTxn(v any) {
	list, _ := v.([]any)
	for i, m := range list {
		mop, ok := m.([]any)
		if !ok || len(mop) < 2 {
			continue
		}
		switch mop[1].(type) {
		case []any, map[string]any:
			mop[1] = FormatValue(mop[1])
		}
		if len(mop) == 2 && (mop[0] == "r" || mop[0] == "read") {
			list[i] = []any{mop[0], mop[1], nil}
		}
	}
}

// finishJepsen applies the readings above to h, read from file.
// positionTimes says that h's times are unknown (none given, or all the
// same): each op then gets its position as its time, as formats without
// times do.
func finishJepsen(h History, file string, positionTimes bool) (History, error) {
	invokes, completions, noProc := 0, 0, 0
	maxProc := Process(-1)
	// txnOpen holds the processes whose open invocation was a read or write
	// read as a txn, so that its completion is one too.
	var txnOpen map[Process]bool
	for i := range h {
		op := &h[i]
		op.Semantics = SemanticsKnossos
		switch {
		case op.Process == Nemesis:
			continue
		case op.Process == noProcess:
			noProc++
		case op.Process > maxProc:
			maxProc = op.Process
		}
		if op.Type == Invoke {
			invokes++
		} else {
			completions++
		}
		switch op.F {
		case "read", "write":
			if op.Type == Invoke {
				if isMicroOps(op.Value) {
					op.F = "txn"
					if txnOpen == nil {
						txnOpen = make(map[Process]bool)
					}
					txnOpen[op.Process] = true
				}
			} else if txnOpen[op.Process] {
				op.F = "txn"
			}
		}
		if op.Type != Invoke && txnOpen != nil {
			delete(txnOpen, op.Process)
		}
		if op.F == "txn" {
			normalizeTxn(op.Value)
		}
	}
	if noProc > 0 {
		if invokes > 0 {
			for i := range h {
				if h[i].Process == noProcess {
					what := "completion"
					if h[i].Type == Invoke {
						what = "invocation"
					}
					return nil, errAt(file, int(h[i].Line), "op has no :process, so this %s cannot be paired (only a history of completions alone may leave :process out)", what)
				}
			}
		}
		next := maxProc + 1
		for i := range h {
			if h[i].Process == noProcess {
				h[i].Process = next
				next++
			}
		}
	}
	if invokes == 0 && completions > 0 {
		for i := range h {
			if op := &h[i]; op.Process != Nemesis && (op.F == "read" || op.F == "write") && isMicroOps(op.Value) {
				op.F = "txn"
				normalizeTxn(op.Value)
			}
		}
		h = synthesizeInvocations(h)
	}
	if positionTimes {
		for i := range h {
			h[i].Time = int64(i)
		}
	}
	return h, nil
}

// synthesizeInvocations gives each client completion of h, a history with
// no client invocations, an invocation at the start of the history, as Elle
// reads such a history: it draws no real-time edge into a completion that
// has no invocation (its op may have begun at any time before it
// completed), draws them from it to later invocations, and orders each
// process's ops (here: its invocations are in the order of its
// completions). The invocations are Synthetic, carry their completion's
// line and the first op's time, and the ops are renumbered.
//
// An invocation's value is its completion's, with reads' values nil, as
// Jepsen writes invocations: a read's value is known only at completion.
func synthesizeInvocations(h History) History {
	n := 0
	for i := range h {
		if h[i].Process != Nemesis {
			n++
		}
	}
	out := make(History, 0, len(h)+n)
	t0 := int64(0)
	if len(h) > 0 {
		t0 = h[0].Time
	}
	for i := range h {
		c := &h[i]
		if c.Process == Nemesis {
			continue
		}
		out = append(out, Op{
			Time: t0, Process: c.Process, Type: Invoke, Semantics: c.Semantics, Synthetic: true,
			F: c.F, Key: c.Key, Value: invocationValue(c), Node: c.Node, Line: c.Line,
		})
	}
	out = append(out, h...)
	out.Renumber()
	return out
}

// invocationValue is what Jepsen would have written at the invocation of
// the completed op c: a read's value is nil, and so are a txn's reads'.
func invocationValue(c *Op) any {
	switch c.F {
	case "read", "r", "get":
		return nil
	case "txn":
		list, ok := c.Value.([]any)
		if !ok {
			return c.Value
		}
		inv := slices.Clone(list)
		for i, m := range inv {
			if mop, ok := m.([]any); ok && len(mop) == 3 && (mop[0] == "r" || mop[0] == "read") {
				inv[i] = []any{mop[0], mop[1], nil}
			}
		}
		return inv
	}
	return c.Value
}
