package txn

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
)

// BenchmarkStreamVerdict is the check at the end of a run of n
// list-append transactions, once the stream has taken the history op by
// op as the run recorded it: with the dependency graph built online (the
// default) and without it (the check at the end builds and searches the
// whole graph). online-µs/txn is what the stream spent per transaction
// while the run went on. With the graph built online, the verdict's time
// should not grow with n, and with write skew only with the cycles the
// search of the last components finds and the report counts:
//
//	go test -run XXX -bench StreamVerdict -benchtime 2x -timeout 30m ./checker/txn
func BenchmarkStreamVerdict(b *testing.B) {
	for _, n := range []int{100_000, 400_000, 1_600_000} {
		for _, skews := range []int{0, n / 100} {
			benchStreamVerdict(b, n, skews)
		}
	}
}

// benchStreamVerdict is BenchmarkStreamVerdict of n transactions with
// skews write skews (G2-item cycles, allowed by snapshot isolation, which
// the check is for).
func benchStreamVerdict(b *testing.B, n, skews int) {
	h := AppendHistoryWith(GenOptions{Seed: 1, Txns: n, Procs: 10, Keys: 8, OpsPerTxn: 4, WriteSkews: skews})
	opts := Options{Workload: "append", ConsistencyModel: "snapshot-isolation", Also: []string{"G2"}}
	for _, graph := range []bool{true, false} {
		b.Run(fmt.Sprintf("txns=%d/skews=%d/online-graph=%v", n, skews, graph), func(b *testing.B) {
			var online time.Duration
			for range b.N {
				b.StopTimer()
				start := time.Now()
				s := NewStream(opts)
				if !graph {
					s.g = nil
				}
				for i := range h {
					s.Add(h[:i+1], i)
				}
				online += time.Since(start)
				b.StartTimer()
				res, err := CheckStreamContext(context.Background(), h, s, opts)
				if err != nil || res.Valid != checker.Valid || s.graphUsed != graph {
					b.Fatalf("%v %v (graph used: %v)", res.Valid, err, s.graphUsed)
				}
			}
			b.ReportMetric(float64(online.Microseconds())/float64(b.N*n), "online-µs/txn")
		})
	}
}
