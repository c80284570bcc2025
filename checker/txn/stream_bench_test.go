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
// while the run went on. The verdict's time should not grow with n when
// the graph is built online:
//
//	go test -run XXX -bench StreamVerdict -benchtime 3x ./checker/txn
func BenchmarkStreamVerdict(b *testing.B) {
	for _, n := range []int{100_000, 400_000, 1_600_000} {
		h := AppendHistoryWith(GenOptions{Seed: 1, Txns: n, Procs: 10, Keys: 8, OpsPerTxn: 4})
		for _, graph := range []bool{true, false} {
			b.Run(fmt.Sprintf("txns=%d/online-graph=%v", n, graph), func(b *testing.B) {
				var online time.Duration
				for range b.N {
					b.StopTimer()
					start := time.Now()
					s := NewStream(Options{Workload: "append"})
					if !graph {
						s.g = nil
					}
					for i := range h {
						s.Add(h[:i+1], i)
					}
					online += time.Since(start)
					b.StartTimer()
					res, err := CheckStreamContext(context.Background(), h, s, Options{Workload: "append"})
					if err != nil || res.Valid != checker.Valid || s.graphUsed != graph {
						b.Fatalf("%v %v (graph used: %v)", res.Valid, err, s.graphUsed)
					}
				}
				b.ReportMetric(float64(online.Microseconds())/float64(b.N*n), "online-µs/txn")
			})
		}
	}
}
