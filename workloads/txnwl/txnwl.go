// Package txnwl is what the two Elle-style transactional workloads share:
// list-append (workloads/append) and rw-register (workloads/rwregister).
// It holds the micro-op type a target's client executes, the Client
// interface a target must offer, the generator of transactions, and the
// translation between micro-ops and the history's values. Each workload
// package is then one constructor and one registry line.
//
// History form (Elle's): an op {f: "txn", value: [[f, k, v], …]} whose
// micro-ops are ["append", k, v], ["w", k, v] and ["r", k, nil]; the ok
// completion fills the reads: ["r", k, [1, 2]] for list-append (an empty
// list for a key with no appends), ["r", k, 3] or ["r", k, nil] for
// rw-register. Keys are integers (int64), not strings: a key is a number
// that is never reused, and the checker treats 7 and "7" alike anyway.
// Values are 1, 2, 3, … per key, so every value is unique per key.
//
// Generation (generator.go): transactions of 1..MaxTxnLen micro-ops over
// ActiveKeys keys in play, picked with an exponential skew so a few keys
// are hot (contention is what shows anomalies); a key retires after
// WritesPerKey writes and a fresh key takes its slot, so lists and
// per-key histories stay short. Half the micro-ops are reads. For
// rw-register every write is preceded in its transaction by a read of the
// same key: the checker can only order register versions by "this
// transaction read v1 and then wrote v2", and write skew (r x, r y, w x
// against r x, r y, w y) needs those orders to be seen.
package txnwl

import (
	"context"
	"fmt"
)

// Kind is a transactional workload: ListAppend or RWRegister. Its string
// is the workload's name and the checker's workload name.
type Kind string

const (
	ListAppend Kind = "append"
	RWRegister Kind = "rw-register"
)

// Micro-op functions, as written in the history.
const (
	FRead   = "r"
	FAppend = "append"
	FWrite  = "w"
)

// Mop is one micro-op of a transaction.
type Mop struct {
	// F is FRead, FAppend (list-append) or FWrite (rw-register).
	F   string
	Key int64
	// Value is what an append or write writes.
	Value int64
	// Read results, set by Client.Txn for FRead: List for list-append (nil
	// or empty: nothing appended yet), Reg for rw-register (nil: never
	// written).
	List []int64
	Reg  *int64
}

// Client is what a target's client must offer for these workloads.
type Client interface {
	// Txn runs mops, in order, as one transaction at the target's
	// isolation level, and returns them with their reads filled. kind says
	// which data the reads read (lists or registers). A nil error means
	// the transaction committed.
	Txn(ctx context.Context, kind Kind, mops []Mop) ([]Mop, error)
	// Definite says whether a Txn error means the transaction certainly
	// did not commit (aborted, or never sent); otherwise its outcome is
	// unknown.
	Definite(err error) bool
}

// Encode is mops in the history's form: [[f, k, v], …], reads with their
// results (or nil when read is false, as in an invocation).
func Encode(kind Kind, mops []Mop, read bool) []any {
	out := make([]any, len(mops))
	for i, m := range mops {
		var v any
		switch {
		case m.F != FRead:
			v = m.Value
		case !read:
			v = nil
		case kind == ListAppend:
			l := make([]any, len(m.List))
			for j, e := range m.List {
				l[j] = e
			}
			v = l
		case m.Reg != nil:
			v = *m.Reg
		}
		out[i] = []any{m.F, m.Key, v}
	}
	return out
}

// Decode reads micro-ops from the history's form, as Encode writes them
// (read results are ignored: an invocation has none).
func Decode(kind Kind, v any) ([]Mop, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s txn: value %T is not a list of micro-ops", kind, v)
	}
	write := FAppend
	if kind == RWRegister {
		write = FWrite
	}
	out := make([]Mop, len(list))
	for i, e := range list {
		m, ok := e.([]any)
		if !ok || len(m) != 3 {
			return nil, fmt.Errorf("%s txn: micro-op %d is %v, not [f k v]", kind, i, e)
		}
		f, _ := m[0].(string)
		k, kok := m[1].(int64)
		if !kok || (f != FRead && f != write) {
			return nil, fmt.Errorf("%s txn: micro-op %d is %v: want [%q int v] or [%q int nil]", kind, i, e, write, FRead)
		}
		mop := Mop{F: f, Key: k}
		if f == write {
			if mop.Value, ok = m[2].(int64); !ok {
				return nil, fmt.Errorf("%s txn: micro-op %d writes %v, not an int64", kind, i, m[2])
			}
		}
		out[i] = mop
	}
	return out, nil
}

// HasWrites says whether any micro-op writes.
func HasWrites(mops []Mop) bool {
	for _, m := range mops {
		if m.F != FRead {
			return true
		}
	}
	return false
}
