package controller

import (
	"testing"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/histories"
)

// The online checker decodes what the recorder wrote, checks a key once it
// has had all its invocations and each completed, and leaves the others
// (and a key that is not linearizable) to the final check.
func TestOnline(t *testing.T) {
	o := newOnline(2, checker.LinearizableOptions{Model: "cas-register"}, txn.Options{Workload: "register"})
	ops := []histories.Op{
		{Process: 0, Type: histories.Invoke, F: "write", Key: "a", Value: int64(1)},
		{Process: 1, Type: histories.Invoke, F: "read", Key: "b"},
		{Process: 0, Type: histories.OK, F: "write", Key: "a", Value: int64(1)},
		{Process: 0, Type: histories.Invoke, F: "read", Key: "a"},
		{Process: histories.Nemesis, Type: histories.Info, F: "start-kill", Value: []any{"n1"}},
		{Process: 0, Type: histories.OK, F: "read", Key: "a", Value: int64(1)},
		{Process: 1, Type: histories.OK, F: "read", Key: "b", Value: int64(7)},
		{Process: 1, Type: histories.Invoke, F: "read", Key: "b"},
		{Process: 1, Type: histories.OK, F: "read", Key: "b", Value: int64(7)},
		{Process: 2, Type: histories.Invoke, F: "read", Key: "c"},
	}
	for i := range ops {
		ops[i].Index = int64(i)
		line, err := histories.AppendJSON(nil, &ops[i])
		if err != nil {
			t.Fatal(err)
		}
		o.add(ops[i], line)
	}
	h, known, stream, err := o.finish()
	if err != nil {
		t.Fatal(err)
	}
	if stream != nil {
		t.Error("a register history got a transaction stream")
	}
	if len(h) != len(ops) || h[5].Line != 6 || h[5].Value != int64(1) || h[4].F != "start-kill" {
		t.Fatalf("decoded %d ops: %+v", len(h), h)
	}
	// a: retired and linearizable; b: retired, but read 7, never written;
	// c: still open.
	if len(known) != 1 || known["a"] != (checker.KnownKey{Invocations: 2, Ops: 2}) {
		t.Fatalf("known %+v, want only a with 2 invocations and 2 ops", known)
	}

	o = newOnline(0, checker.LinearizableOptions{}, txn.Options{})
	o.add(histories.Op{}, []byte(`{"index":0,"time":`))
	if _, _, _, err := o.finish(); err == nil {
		t.Fatal("a line that does not decode was taken")
	}
}

// A transactional history is parsed online, and the check that starts from
// that parse gives what an offline check of the file gives.
func TestOnlineTxn(t *testing.T) {
	h := txn.AppendHistoryWith(txn.GenOptions{Seed: 4, Txns: 3000, Procs: 10, Keys: 8, OpsPerTxn: 4, PlantG2: true, InfoRate: 0.05})
	o := newOnline(0, checker.LinearizableOptions{}, txn.Options{Workload: "append"})
	for i := range h {
		line, err := histories.AppendJSON(nil, &h[i])
		if err != nil {
			t.Fatal(err)
		}
		o.add(h[i], line)
	}
	got, _, stream, err := o.finish()
	if err != nil || stream == nil {
		t.Fatalf("finish: stream %v, %v", stream, err)
	}
	// All but those still open when the history ended (the stream parses
	// a transaction once every one invoked before it has completed).
	if n := stream.Parsed(); n < 2900 {
		t.Fatalf("%d transactions parsed online", n)
	}
	online, err := suite.Check(got, "", suite.Options{Workload: "append", TxnStream: stream})
	if err != nil {
		t.Fatal(err)
	}
	offline, err := suite.Check(h, "", suite.Options{Workload: "append"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := online.Results.Checkers["append"], offline.Results.Checkers["append"]
	if a.Valid != checker.Invalid || a.Summary != b.Summary {
		t.Fatalf("online: %v %s\noffline: %v %s", a.Valid, a.Summary, b.Valid, b.Summary)
	}
}
