// Package append is Elle's list-append workload: transactions of appends
// to and reads of integer lists, one list per key, checked by checker/txn
// for the consistency model the target claims. A read returns the whole
// list, so every read reveals a prefix of its key's version order, which
// is what lets the checker infer write-write, write-read and read-write
// dependencies and find cycles (G0, G1c, G-single, G2-item, …).
//
// The generation and the history's form are shared with rw-register and
// live in workloads/txnwl: micro-ops ["append", k, v] and ["r", k, list],
// integer keys, values 1, 2, 3, … per key.
//
// The package is named listappend, not append, so that importing it does
// not shadow the builtin append in the importing file.
package listappend

import (
	"github.com/faultline-dev/faultline/workloads"
	"github.com/faultline-dev/faultline/workloads/txnwl"
)

// Name is the workload's name in plans and histories.
const Name = string(txnwl.ListAppend)

// New returns a list-append workload with opts (zero: defaults).
func New(opts txnwl.Options) *txnwl.Workload { return txnwl.New(txnwl.ListAppend, opts) }

// Default is the registered instance. Its ConsistencyModel is empty: the
// controller checks for what the target claims.
var Default = New(txnwl.Options{})

func init() { workloads.Register(Default) }
