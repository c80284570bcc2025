package txnwl

import (
	"context"
	"fmt"

	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

// Options configure a transactional workload. Zero values mean the
// defaults (the Default* constants).
type Options struct {
	// MaxTxnLen is the most micro-ops in a transaction (at least 1).
	MaxTxnLen int
	// ActiveKeys is how many keys are in play at once.
	ActiveKeys int
	// WritesPerKey is how many writes a key gets before it retires.
	WritesPerKey int
	// Skew in (0, 1]: the i-th key in play is picked with weight Skew^i;
	// 1 is uniform.
	Skew float64
	// ReadFraction in (0, 1) is the share of micro-ops that read.
	ReadFraction float64
	// ConsistencyModel is what the system under test claims, e.g.
	// "serializable" or "snapshot-isolation"; the history is invalid only
	// if an anomaly rules it out. Empty leaves it to whoever runs the
	// check (the controller asks the target; the checker's default is
	// strict-serializable).
	ConsistencyModel string

	_ struct{}
}

// Workload is a transactional workload of one Kind.
type Workload struct {
	kind Kind
	opts Options
}

var _ workloads.Workload = (*Workload)(nil)

// New returns the workload of kind with opts.
func New(kind Kind, opts Options) *Workload {
	return &Workload{kind: kind, opts: opts}
}

// Kind is the workload's kind.
func (w *Workload) Kind() Kind { return w.kind }

// Options are the workload's options as given.
func (w *Workload) Options() Options { return w.opts }

// Name implements workloads.Workload: "append" or "rw-register".
func (w *Workload) Name() string { return string(w.kind) }

// Doc implements workloads.Workload.
func (w *Workload) Doc() string {
	c := w.opts.genConfig()
	what := "list-append: transactions of appends and list reads"
	if w.kind == RWRegister {
		what = "rw-register: transactions of register writes and reads"
	}
	return fmt.Sprintf("%s (Elle), 1-%d micro-ops over %d skewed keys, %d writes per key; checked for the target's consistency model",
		what, c.maxTxnLen, c.activeKeys, c.writesPerKey)
}

// Check implements workloads.Workload. The verdict is the claimed model's,
// but a run also looks for every anomaly strict serializability
// prohibits, so that its report says how far beyond the claim the system
// went ("valid for snapshot-isolation; G2-item found, so not
// serializable"). rw-register runs infer version order from a
// transaction's read of a key followed by its write of it (Elle's
// wfr-keys, off by default for histories from elsewhere): faultline's
// transactions read before they write, and every isolation level a
// target claims reads installed versions.
func (w *Workload) Check() suite.Options {
	return suite.Options{Workload: string(w.kind), ConsistencyModel: w.opts.ConsistencyModel,
		Also: txn.Prohibited(txn.DefaultModel), WFRKeys: w.kind == RWRegister}
}

// Supports implements workloads.Workload.
func (w *Workload) Supports(client any) error {
	if _, ok := client.(Client); !ok {
		return fmt.Errorf("the target's client has no transactions (Txn) for the %s workload", w.kind)
	}
	return nil
}

// NewGenerator implements workloads.Workload.
func (w *Workload) NewGenerator(seed int64) workloads.Generator {
	return newGenerator(w.kind, w.opts.genConfig(), seed)
}

// Invoke implements workloads.Workload: ok with the reads filled when the
// transaction committed; fail when it certainly did not (or when it only
// read: a read-only transaction changes nothing whatever happened to it);
// info otherwise.
func (w *Workload) Invoke(ctx context.Context, client any, inv workloads.Invocation) workloads.Completion {
	c := client.(Client)
	mops, err := Decode(w.kind, inv.Value)
	if err != nil {
		return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: err.Error()}
	}
	res, err := c.Txn(ctx, w.kind, mops)
	if err == nil && len(res) != len(mops) {
		// A client bug: what it committed is unknown.
		return workloads.Completion{Type: histories.Info, Value: inv.Value,
			Error: fmt.Sprintf("%s txn: the client returned %d micro-ops for %d", w.kind, len(res), len(mops))}
	}
	if err != nil {
		if !HasWrites(mops) || c.Definite(err) {
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: err.Error()}
		}
		return workloads.Completion{Type: histories.Info, Value: inv.Value, Error: err.Error()}
	}
	return workloads.Completion{Type: histories.OK, Value: Encode(w.kind, res, true)}
}
