package gen

import (
	"math/rand/v2"
	"strconv"

	"github.com/faultline-dev/faultline/histories"
)

// RegisterHistory simulates a linearizable store of cas-registers, one per
// key, and records ops invocations of read, write and cas [old new] on keys
// "0".."keys-1" by procs concurrent workers. Each op takes effect atomically
// at a random moment between its invocation and its completion, so the
// history is linearizable by construction; ops of different workers overlap.
// Written values are unique per key (1, 2, 3… in write order). A cas whose
// compare does not match fails with no error. About infoFrac of the ops end
// in info (half of those took effect, half did not), and the worker goes on
// under a new process id, as in Jepsen. The same seed gives the same history.
//
// The history has 2*ops events (each op's invoke and completion), indexed
// from 0; Time is nanoseconds, 1µs per event.
func RegisterHistory(seed int64, ops, keys, procs int, infoFrac float64) histories.History {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	type register struct {
		set     bool
		value   int64
		written int64 // last value written, for unique writes
	}
	regs := make([]register, keys)
	keyNames := make([]string, keys)
	for k := range keyNames {
		keyNames[k] = strconv.Itoa(k)
	}
	const (
		idle = iota
		invoked
		applied
	)
	type worker struct {
		process histories.Process
		stage   int
		key     int
		f       string
		value   any // the invoke's value
		old     int64
		next    int64
		info    bool // completes with info
		lost    bool // info and never took effect
		result  any  // a read's value
		ok      bool // a cas's compare matched
	}
	ws := make([]worker, procs)
	for i := range ws {
		ws[i].process = histories.Process(i)
	}
	nextProcess := histories.Process(procs)
	h := make(histories.History, 0, 2*ops)
	emit := func(w *worker, t histories.Type, v any, errMsg string) {
		i := int64(len(h))
		h = append(h, histories.Op{Index: i, Time: i * 1000, Process: w.process, Type: t, F: w.f, Key: keyNames[w.key], Value: v, Error: errMsg})
	}
	issued, done := 0, 0
	for done < ops {
		w := &ws[rng.IntN(procs)]
		switch w.stage {
		case idle:
			if issued == ops {
				continue
			}
			issued++
			w.key = rng.IntN(keys)
			r := &regs[w.key]
			w.info = rng.Float64() < infoFrac
			w.lost = w.info && rng.IntN(2) == 0
			switch x := rng.IntN(10); {
			case x < 5:
				w.f, w.value = "read", nil
			case x < 8:
				r.written++
				w.f, w.next = "write", r.written
				w.value = w.next
			default:
				// Usually the current value, so that cas often succeeds.
				w.old = r.value
				if !r.set || rng.IntN(3) == 0 {
					w.old = rng.Int64N(r.written + 2)
				}
				r.written++
				w.f, w.next = "cas", r.written
				w.value = []any{w.old, w.next}
			}
			emit(w, histories.Invoke, w.value, "")
			w.stage = invoked
		case invoked:
			r := &regs[w.key]
			if !w.lost {
				switch w.f {
				case "read":
					w.result = nil
					if r.set {
						w.result = r.value
					}
				case "write":
					r.set, r.value = true, w.next
				case "cas":
					w.ok = r.set && r.value == w.old
					if w.ok {
						r.value = w.next
					}
				}
			}
			w.stage = applied
		case applied:
			done++
			w.stage = idle
			switch {
			case w.info:
				emit(w, histories.Info, w.value, "timeout")
				w.process = nextProcess
				nextProcess++
			case w.f == "read":
				emit(w, histories.OK, w.result, "")
			case w.f == "cas" && !w.ok:
				emit(w, histories.Fail, w.value, "")
			default:
				emit(w, histories.OK, w.value, "")
			}
		}
	}
	return h
}
