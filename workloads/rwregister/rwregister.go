// Package rwregister is Elle's rw-register workload: transactions of
// writes to and reads of integer registers, checked by checker/txn for the
// consistency model the target claims. A register read reveals much less
// than a list read: the checker orders a key's versions only from the
// initial nil and from transactions that read a version and then wrote
// the next, so every write here is preceded by a read of its key in the
// same transaction (see workloads/txnwl).
//
// The generation and the history's form are shared with list-append and
// live in workloads/txnwl: micro-ops ["w", k, v] and ["r", k, v|nil],
// integer keys, values 1, 2, 3, … per key.
package rwregister

import (
	"github.com/faultline-dev/faultline/workloads"
	"github.com/faultline-dev/faultline/workloads/txnwl"
)

// Name is the workload's name in plans and histories.
const Name = string(txnwl.RWRegister)

// New returns an rw-register workload with opts (zero: defaults).
func New(opts txnwl.Options) *txnwl.Workload { return txnwl.New(txnwl.RWRegister, opts) }

// Default is the registered instance. Its ConsistencyModel is empty: the
// controller checks for what the target claims.
var Default = New(txnwl.Options{})

func init() { workloads.Register(Default) }
