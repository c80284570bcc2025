package reports

import (
	"math/rand/v2"
	"sort"

	"github.com/faultline-dev/faultline/histories"
)

// genHistory makes a deterministic history of about n ops (invocations and
// completions) shaped like a real faultline run: `workers` workers doing
// read / write / cas on five keys against nodes n1..n3 at about 2 ms per op
// plus a pause of about gap ms,
// and a nemesis that partitions n1 away for 5 s of every 10 s. During a
// partition, ops routed to n1 time out (info: the worker continues as a new
// process) or fail; n1 answers again 1.5 s after the heal. With txn, the
// ops are list-append transactions instead.
// gap is each worker's mean pause between ops (ms), which sets the pace.
func genHistory(n, workers int, gap int, seed uint64, txn bool) histories.History {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	type event struct {
		t  int64
		op histories.Op
	}
	events := make([]event, 0, n+n/50)
	const ms = int64(1e6)
	partitioned := func(t int64) bool { s := t % (10_000 * ms); return s >= 2_000*ms && s < 7_000*ms }
	recovering := func(t int64) bool { s := t % (10_000 * ms); return s >= 7_000*ms && s < 8_500*ms }
	proc := make([]histories.Process, workers)
	next := make([]int64, workers)
	for w := range workers {
		proc[w] = histories.Process(w)
		next[w] = int64(rng.IntN(1000)) * 1000
	}
	var end int64
	for len(events) < n {
		// The worker that is free first goes next.
		w := 0
		for i := 1; i < workers; i++ {
			if next[i] < next[w] {
				w = i
			}
		}
		t := next[w]
		node := []string{"n1", "n2", "n3"}[rng.IntN(3)]
		key := string(rune('0' + rng.IntN(5)))
		inv := histories.Op{Process: proc[w], Type: histories.Invoke, Key: key}
		switch r := rng.IntN(10); {
		case txn:
			inv.F, inv.Key = "txn", ""
			inv.Value = []any{[]any{"append", key, int64(len(events))}, []any{"r", string(rune('0' + rng.IntN(5))), nil}}
		case r < 5:
			inv.F = "read"
		case r < 8:
			inv.F, inv.Value = "write", int64(rng.IntN(100))
		default:
			inv.F, inv.Value = "cas", []any{int64(rng.IntN(100)), int64(rng.IntN(100))}
		}
		comp := inv
		comp.Node = node
		lat := ms + int64(rng.ExpFloat64()*float64(ms))
		if rng.IntN(500) == 0 {
			lat *= 40 // the occasional slow op
		}
		comp.Type = histories.OK
		switch {
		case node == "n1" && partitioned(t):
			if rng.IntN(10) < 6 {
				comp.Type, comp.Error, lat = histories.Info, "timeout", 500*ms
			} else {
				comp.Type, comp.Error, lat = histories.Fail, "no leader", 3*ms
			}
		case node == "n1" && recovering(t):
			comp.Type, comp.Error = histories.Fail, "not ready"
		case inv.F == "cas" && rng.IntN(3) == 0:
			comp.Type = histories.Fail
		}
		if inv.F == "read" && comp.Type == histories.OK {
			comp.Value = int64(rng.IntN(100))
		}
		if inv.F == "txn" && comp.Type == histories.OK {
			mops := inv.Value.([]any)
			r := mops[1].([]any)
			comp.Value = []any{mops[0], []any{"r", r[1], []any{int64(1), int64(2)}}}
		}
		events = append(events, event{t, inv}, event{t + lat, comp})
		next[w] = t + lat + int64(rng.IntN(2*gap*1000+1))*1000
		if comp.Type == histories.Info {
			proc[w] += histories.Process(workers)
		}
		end = max(end, t+lat)
	}
	for s := int64(0); s < end; s += 10_000 * ms {
		events = append(events,
			event{s + 2_000*ms, histories.Op{Process: histories.Nemesis, Type: histories.Info, F: "start-partition", Value: map[string]any{"n1": []any{"n2", "n3"}}}},
			event{s + 7_000*ms, histories.Op{Process: histories.Nemesis, Type: histories.Info, F: "stop-partition", Value: "fully connected"}},
		)
	}
	// A last partition that is never healed, when the history ends inside
	// a window, is what real interrupted runs look like too.
	sort.SliceStable(events, func(i, j int) bool { return events[i].t < events[j].t })
	h := make(histories.History, 0, len(events))
	for i, e := range events {
		if e.t > end || len(h) == n {
			break // exactly n ops; an op cut off at the end stays open, as in a crash
		}
		op := e.op
		op.Index, op.Time = int64(i), e.t
		h = append(h, op)
	}
	return h
}
