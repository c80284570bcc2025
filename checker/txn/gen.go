package txn

import (
	"bufio"
	"io"
	"math/rand/v2"

	"github.com/faultline-dev/faultline/histories"
)

// GenOptions configure AppendHistoryWith.
type GenOptions struct {
	Seed uint64
	// Txns is how many transactions to invoke; Procs how many run at once.
	Txns, Procs int
	// Keys is how many keys are in use at any time; a key that has taken
	// MaxWritesPerKey appends (default 32) is retired for a fresh one, as
	// Elle's generator does, which keeps lists short.
	Keys, MaxWritesPerKey int
	// OpsPerTxn is the mean number of micro-ops per transaction (lengths
	// are uniform in [⌈OpsPerTxn/2⌉, OpsPerTxn+OpsPerTxn/2]). Half the
	// micro-ops are reads.
	OpsPerTxn int
	// FailRate and InfoRate are the fractions of transactions that abort
	// (no effect) or crash (effect applied or not, at random; the process
	// is retired and replaced).
	FailRate, InfoRate float64
	// StaleReads is the fraction of reads that return an older state of
	// their key (a random prefix of its list, or for registers its
	// initial nil): a database that is not serializable, for testing the
	// checker on histories full of anomalies.
	StaleReads float64
	// PlantG2 adds, halfway through, two concurrent transactions that
	// each read the key the other appends to, both before the other's
	// append: write skew, a G2-item cycle.
	PlantG2 bool
	// WriteSkews plants that many such write skews, evenly through the
	// history (besides PlantG2's): a database that claims snapshot
	// isolation, which allows them, but no more.
	WriteSkews int
	_          struct{}
}

// AppendHistory simulates a strict-serializable list-append database: procs
// processes run txns transactions over keys active keys with about
// opsPerTxn micro-ops each. Transactions overlap, but each executes
// atomically at the moment it completes, so the history is strict
// serializable by construction. Appends are of values unique per key;
// reads return the whole list.
func AppendHistory(seed, txns, procs, keys, opsPerTxn int) histories.History {
	return AppendHistoryWith(GenOptions{Seed: uint64(seed), Txns: txns, Procs: procs, Keys: keys, OpsPerTxn: opsPerTxn})
}

// AppendHistoryWith is AppendHistory with every option.
func AppendHistoryWith(o GenOptions) histories.History { return generate(o, false) }

// RWRegisterHistory is AppendHistoryWith for the rw-register workload:
// writes of values unique per key instead of appends, and reads that return
// the current value (nil before the first write). PlantG2 plants the same
// write skew with writes.
func RWRegisterHistory(o GenOptions) histories.History { return generate(o, true) }

// WriteAppendHistory writes AppendHistoryWith(o) as JSONL to w, without
// holding the whole history in memory (ten million transactions take
// about 10 GB as a histories.History).
func WriteAppendHistory(w io.Writer, o GenOptions) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var buf []byte
	var err error
	generateTo(o, false, func(ops []histories.Op) {
		for i := range ops {
			if err != nil {
				return
			}
			buf, err = histories.AppendJSON(buf[:0], &ops[i])
			buf = append(buf, '\n')
			if err == nil {
				_, err = bw.Write(buf)
			}
		}
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

func generate(o GenOptions, register bool) histories.History {
	return generateTo(o, register, nil)
}

// generateTo generates the history; with sink, it is handed the history
// in order, a run of ops at a time, each op once its value is final.
func generateTo(o GenOptions, register bool, sink func([]histories.Op)) histories.History {
	if o.Procs <= 0 {
		o.Procs = 1
	}
	if o.Keys <= 0 {
		o.Keys = 1
	}
	if o.OpsPerTxn <= 0 {
		o.OpsPerTxn = 1
	}
	if o.MaxWritesPerKey <= 0 {
		o.MaxWritesPerKey = 32
	}
	g := &appendGen{o: o, register: register, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed)), sink: sink}
	g.write = "append"
	if register {
		g.write = "w"
	}
	if sink == nil {
		g.h = make(histories.History, 0, 2*o.Txns+4)
	}
	for range o.Keys {
		g.active = append(g.active, g.freshKey())
	}
	g.slots = make([]genSlot, o.Procs)
	for i := range g.slots {
		g.slots[i].proc = i
	}
	invoked := 0
	busy := 0
	planted := !o.PlantG2
	skews := 0
	for invoked < o.Txns || busy > 0 {
		if !planted && invoked >= o.Txns/2 {
			g.plant()
			planted = true
		}
		if skews < o.WriteSkews && invoked >= (skews+1)*o.Txns/(o.WriteSkews+1) {
			g.plant()
			skews++
		}
		s := &g.slots[g.rng.IntN(len(g.slots))]
		if s.mops == nil {
			if invoked == o.Txns {
				continue
			}
			g.invoke(s)
			invoked++
			busy++
		} else {
			g.complete(s)
			busy--
		}
	}
	g.flush(0)
	return g.h
}

// flush hands the sink the ops whose values are final, from the start,
// once there are more than keep ops held.
func (g *appendGen) flush(keep int) {
	if g.sink == nil || len(g.h) <= keep {
		return
	}
	n := 0
	for n < len(g.h) && g.done[n] {
		n++
	}
	g.sink(g.h[:n])
	g.base += int64(n)
	g.h = append(g.h[:0], g.h[n:]...)
	g.done = append(g.done[:0], g.done[n:]...)
}

type genKey struct {
	id     int64
	name   any   // the key, boxed once
	list   []any // its current value; reads share its prefix
	writes int   // appends so far
	value  any   // a register's current value
}

type genSlot struct {
	proc int
	mops []any // the txn in flight, as invoked
	at   int64 // its invocation's index
}

type appendGen struct {
	o        GenOptions
	register bool
	write    string // the write micro-op: append or w
	rng      *rand.Rand
	h        histories.History
	active   []*genKey
	nextID   int64
	slots    []genSlot
	// With a sink, h holds the ops from index base on, and done says
	// which of them are final (an invocation is once it completes).
	sink     func([]histories.Op)
	base     int64
	done     []bool
	planting bool
}

func (g *appendGen) freshKey() *genKey {
	k := &genKey{id: g.nextID, name: g.nextID}
	g.nextID++
	return k
}

func (g *appendGen) emit(proc int, t histories.Type, v []any) {
	i := g.base + int64(len(g.h))
	g.h = append(g.h, histories.Op{Index: i, Time: i * 1000, Process: histories.Process(proc), Type: t, F: "txn", Value: v})
	if g.sink != nil {
		g.done = append(g.done, t != histories.Invoke || g.planting)
	}
}

func (g *appendGen) invoke(s *genSlot) {
	lo := (g.o.OpsPerTxn + 1) / 2
	n := lo + g.rng.IntN(g.o.OpsPerTxn+g.o.OpsPerTxn/2-lo+1)
	mops := make([]any, n)
	for i := range mops {
		k := g.active[g.rng.IntN(len(g.active))]
		if g.rng.IntN(2) == 0 {
			mops[i] = []any{"r", k, nil}
		} else {
			// The value is chosen at execution; mark the key for now.
			mops[i] = []any{g.write, k, nil}
		}
	}
	s.mops = mops
	s.at = g.base + int64(len(g.h))
	// The micro-ops get their keys' names and append values at
	// completion; the invocation shares them.
	g.emit(s.proc, histories.Invoke, mops)
}

// complete executes the slot's transaction atomically now (or not at all,
// for a failure) and records its completion.
func (g *appendGen) complete(s *genSlot) {
	inv := s.mops
	out := make([]any, len(inv))
	r := g.rng.Float64()
	fail := r < g.o.FailRate
	info := !fail && r < g.o.FailRate+g.o.InfoRate
	apply := !fail && (!info || g.rng.IntN(2) == 0)
	for i, m := range inv {
		mop := m.([]any)
		k := mop[1].(*genKey)
		if mop[0] == g.write {
			v := int64(k.writes + 1)
			k.writes++
			// The invocation and completion share the write micro-op.
			mop[1], mop[2] = k.name, v
			out[i] = mop
			if apply {
				k.list = append(k.list, v)
				k.value = v
			}
			if k.writes >= g.o.MaxWritesPerKey {
				g.retire(k)
			}
			continue
		}
		mop[1] = k.name
		if fail || info {
			out[i] = mop
			continue
		}
		n := len(k.list)
		stale := g.o.StaleReads > 0 && g.rng.Float64() < g.o.StaleReads
		if stale {
			n = g.rng.IntN(n + 1)
		}
		switch {
		case g.register && stale:
			out[i] = []any{"r", k.name, nil}
		case g.register:
			out[i] = []any{"r", k.name, k.value}
		default:
			out[i] = []any{"r", k.name, k.list[:n:n]}
		}
	}
	t := histories.OK
	switch {
	case fail:
		t = histories.Fail
	case info:
		t = histories.Info
	}
	g.emit(s.proc, t, out)
	if g.sink != nil {
		g.done[s.at-g.base] = true
		g.flush(1 << 14)
	}
	s.mops = nil
	if info {
		s.proc += len(g.slots)
	}
}

// retire replaces a key that took its last append with a fresh one.
func (g *appendGen) retire(k *genKey) {
	for i, a := range g.active {
		if a == k {
			g.active[i] = g.freshKey()
			return
		}
	}
}

// plant records write skew: T1 reads x and appends to y, T2 reads y and
// appends to x, each reading the state before the other's append.
func (g *appendGen) plant() {
	x, y := g.freshKey(), g.freshKey()
	p1, p2 := 1<<30, 1<<30+1
	t1 := []any{[]any{"r", x.name, nil}, []any{g.write, y.name, int64(1)}}
	t2 := []any{[]any{"r", y.name, nil}, []any{g.write, x.name, int64(1)}}
	var empty any = []any{}
	if g.register {
		empty = nil
	}
	g.planting = true
	g.emit(p1, histories.Invoke, t1)
	g.emit(p2, histories.Invoke, t2)
	g.planting = false
	g.emit(p1, histories.OK, []any{[]any{"r", x.name, empty}, t1[1]})
	g.emit(p2, histories.OK, []any{[]any{"r", y.name, empty}, t2[1]})
	x.list, x.writes, x.value = []any{int64(1)}, 1, int64(1)
	y.list, y.writes, y.value = []any{int64(1)}, 1, int64(1)
	// Later transactions use both keys.
	g.active[0] = x
	if len(g.active) > 1 {
		g.active[len(g.active)-1] = y
	}
}
