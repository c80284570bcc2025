package controller

import (
	"fmt"
	"sync"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/histories"
)

// online checks the history while the run records it, so that the verdict
// comes moments after the final phase whatever the run's length:
//
//   - It decodes every line the recorder writes, as reading the file back
//     would (the same decoder on the same bytes), so the check at the end
//     needs no read-back: the file stays the record, and what is checked
//     is what it says. It makes the check's own passes over the history
//     (pairing, counts, stats, faults: suite.Passes) as the ops come.
//   - For a transactional workload (append, rw-register), it parses each
//     transaction once it and every one invoked before it have completed
//     (txn.Stream), so the final check starts from the parsed history and
//     has only the dependency graph and the cycle search left to do; for
//     list-append it builds the graph too, and when the history has no
//     anomaly the final check has nothing left to do.
//   - For a workload checked per key for linearizability whose keys retire
//     (workloads.KeyRetirer: the register workload), it checks each key
//     with porcupine once the key has had all its invocations and each has
//     completed, while the run goes on; the final check then searches only
//     the keys that were still in play (and any key whose online verdict
//     was not "linearizable": those are searched again, so that their
//     explanation comes out exactly as an offline check gives it).
//
// One goroutine does the work, behind a queue the recorder appends to
// under its lock, so a worker's Record costs a copy of the line.
type online struct {
	mu      sync.Mutex
	queue   [][]byte // lines not decoded yet
	wake    chan struct{}
	closed  bool
	done    chan struct{}
	h       histories.History
	err     error
	keyOps  int
	lin     checker.LinearizableOptions
	keys    map[string]*onlineKey
	known   map[string]checker.KnownKey
	checked int // keys checked online
	stream  *txn.Stream
	dec     histories.Decoder
	// passes are the final check's passes over the history (pairing,
	// counts, stats, faults), made as it is recorded.
	passes *suite.Passes
}

// onlineKey is a key in play: the positions of its ops in h, its
// invocations, and the processes with an op open on it.
type onlineKey struct {
	ops     []int32
	invokes int
	open    map[histories.Process]bool
}

// newOnline starts an online checker. keyOps > 0 turns on the per-key
// linearizability checks with lin; a transactional workload (tx.Workload
// "append" or "rw-register") the parsing of its transactions, and for
// list-append the dependency graph for tx's model.
func newOnline(keyOps int, lin checker.LinearizableOptions, tx txn.Options) *online {
	o := &online{wake: make(chan struct{}, 1), done: make(chan struct{}), keyOps: keyOps, lin: lin,
		keys: map[string]*onlineKey{}, known: map[string]checker.KnownKey{}, stream: txn.NewStream(tx),
		passes: suite.NewPasses()}
	go o.run()
	return o
}

// add queues one recorded line (copied: the recorder reuses its buffer).
// It is the recorder's Tee.
func (o *online) add(_ histories.Op, line []byte) {
	o.mu.Lock()
	o.queue = append(o.queue, append([]byte(nil), line...))
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// finish waits until every queued line is decoded and every retired key
// checked, and returns the history as the file holds it, the keys found
// linearizable and the parsed transactions (nil if the workload has none);
// o.passes then holds the passes over it.
// An error (a line that would not decode) means the caller reads the file
// back instead.
func (o *online) finish() (histories.History, map[string]checker.KnownKey, *txn.Stream, error) {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	<-o.done
	return o.h, o.known, o.stream, o.err
}

func (o *online) run() {
	defer close(o.done)
	for {
		<-o.wake
		for {
			o.mu.Lock()
			batch, closed := o.queue, o.closed
			o.queue = nil
			o.mu.Unlock()
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
			for _, line := range batch {
				if o.err == nil {
					o.decodeSafe(line)
				}
			}
		}
	}
}

// decodeSafe is decode with a panic turned into the online checker's
// error: the run then reads its history back and checks it offline.
func (o *online) decodeSafe(line []byte) {
	defer func() {
		if p := recover(); p != nil {
			o.err = fmt.Errorf("online check: panic: %v", p)
		}
	}()
	o.decode(line)
}

// decode appends one line's op to h (numbered as the file's line) and
// follows its key.
func (o *online) decode(line []byte) {
	var op histories.Op
	if err := o.dec.Decode(line, &op); err != nil {
		o.err = &histories.ParseError{Line: len(o.h) + 1, Msg: "bad op", Err: err}
		return
	}
	op.Line = int32(len(o.h) + 1)
	o.h = append(o.h, op)
	o.passes.Add(o.h, len(o.h)-1)
	o.stream.Add(o.h, len(o.h)-1)
	if o.keyOps <= 0 || op.Key == "" || op.Process == histories.Nemesis {
		return
	}
	k := o.keys[op.Key]
	if k == nil {
		k = &onlineKey{open: map[histories.Process]bool{}}
		o.keys[op.Key] = k
	}
	k.ops = append(k.ops, int32(len(o.h)-1))
	if op.Type == histories.Invoke {
		k.invokes++
		k.open[op.Process] = true
	} else {
		delete(k.open, op.Process)
	}
	if k.invokes >= o.keyOps && len(k.open) == 0 {
		o.checkKey(op.Key, k)
		delete(o.keys, op.Key)
	}
}

// checkKey searches a retired key's ops; a key found linearizable is
// known to the final check.
func (o *online) checkKey(key string, k *onlineKey) {
	sub := make(histories.History, len(k.ops))
	for i, at := range k.ops {
		sub[i] = o.h[at]
	}
	res, _, err := checker.Linearizable(sub, o.lin)
	if err != nil || res.Valid != checker.Valid {
		return // searched again at the end, where it is explained
	}
	d, ok := res.Details.(checker.LinearizableDetails)
	if !ok {
		return
	}
	o.known[key] = checker.KnownKey{Invocations: k.invokes, Ops: d.Ops}
	o.checked++
}
