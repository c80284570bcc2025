package wltest_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/bank"
	"github.com/faultline-dev/faultline/checker/counter"
	"github.com/faultline-dev/faultline/checker/lock"
	"github.com/faultline-dev/faultline/checker/queue"
	"github.com/faultline-dev/faultline/checker/set"
	"github.com/faultline-dev/faultline/checker/uniqueids"
	"github.com/faultline-dev/faultline/histories"
)

// Every workload checker, given well-paired histories of any op shapes,
// returns a result or an error: never a panic, never a result that does
// not encode.
func TestNoPanicOnAnyShape(t *testing.T) {
	checkers := []checker.Checker{
		set.New(set.Options{}), set.New(set.Options{Linearizable: true}), counter.New(),
		bank.New(bank.Options{}), bank.New(bank.Options{Total: 10, Accounts: []string{"0", "1"}}),
		queue.NewTotal(queue.Options{}), queue.NewTotal(queue.Options{ExactlyOnce: true}), queue.NewUnordered(),
		lock.New(), uniqueids.New(),
	}
	fs := []string{"add", "read", "transfer", "enqueue", "dequeue", "drain", "acquire", "release", "write", "generate"}
	rng := rand.New(rand.NewPCG(3, 5))
	value := func() any {
		switch rng.IntN(9) {
		case 0:
			return nil
		case 1:
			return int64(rng.IntN(5) - 1)
		case 2:
			return "s"
		case 3:
			return float64(rng.IntN(3)) + 0.5
		case 4:
			return []any{int64(rng.IntN(3)), int64(rng.IntN(3))}
		case 5:
			return []any{nil}
		case 6:
			return map[string]any{"from": int64(0), "to": int64(1), "amount": int64(2)}
		case 7:
			return map[string]any{"0": int64(rng.IntN(10)), "1": nil}
		default:
			return true
		}
	}
	for n := range 20000 {
		var h histories.History
		open := map[histories.Process]string{}
		next := histories.Process(4)
		procs := []histories.Process{0, 1, 2, 3}
		for range rng.IntN(16) {
			slot := rng.IntN(len(procs))
			p := procs[slot]
			op := histories.Op{Index: int64(len(h)), Time: int64(len(h)) * 1e6, Process: p, Value: value()}
			if rng.IntN(3) == 0 {
				op.Key = []string{"", "a", "1"}[rng.IntN(3)]
			}
			if rng.IntN(10) == 0 {
				op.Process, op.Type, op.F = histories.Nemesis, histories.Info, "kill"
			} else if f, ok := open[p]; ok {
				op.F, op.Type = f, []histories.Type{histories.OK, histories.OK, histories.Fail, histories.Info}[rng.IntN(4)]
				delete(open, p)
				if op.Type == histories.Info {
					procs[slot], next = next, next+1
				}
			} else {
				op.F, op.Type = fs[rng.IntN(len(fs))], histories.Invoke
				open[p] = op.F
			}
			h = append(h, op)
		}
		// Keys follow the invocation: make completions carry theirs.
		inv := map[histories.Process]string{}
		for i := range h {
			if h[i].Process == histories.Nemesis {
				continue
			}
			if h[i].Type == histories.Invoke {
				inv[h[i].Process] = h[i].Key
			} else {
				h[i].Key = inv[h[i].Process]
			}
		}
		for _, c := range checkers {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("history %d: %s panicked: %v\n%v", n, c.Name(), r, h)
					}
				}()
				r, err := c.Check(context.Background(), h)
				if err != nil {
					return
				}
				if _, err := json.Marshal(r); err != nil {
					t.Fatalf("history %d: %s: %v", n, c.Name(), err)
				}
			}()
		}
	}
}
