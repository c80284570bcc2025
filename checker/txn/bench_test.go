package txn

import (
	"reflect"
	"testing"

	"github.com/faultline-dev/faultline/checker"
)

func benchAppend(b *testing.B, txns int, plant bool) {
	h := AppendHistoryWith(GenOptions{Seed: 7, Txns: txns, Procs: 100, Keys: 100, OpsPerTxn: 4, PlantG2: plant})
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, _ := cpuTime()
	for b.Loop() {
		res, err := Check(h, Options{Workload: "append"})
		if err != nil {
			b.Fatal(err)
		}
		if plant {
			if res.Valid != checker.Invalid || !reflect.DeepEqual(res.AnomalyTypes, []string{"G2-item"}) {
				b.Fatalf("planted G2-item: %v %v\n%s", res.Valid, res.AnomalyTypes, res.Summary)
			}
		} else if res.Valid != checker.Valid {
			b.Fatalf("%v %v\n%s", res.Valid, res.AnomalyTypes, res.Summary)
		}
	}
	// CPU time is what the check costs regardless of other load on the
	// machine; peak RSS includes the generated history.
	cpu1, rss := cpuTime()
	b.ReportMetric((cpu1-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MB")
}

// BenchmarkAppend1M checks a strict-serializable list-append history of a
// million transactions (about 4 micro-ops each, 100 processes, 100 active
// keys of at most 32 appends each; 2M ops, ~15M dependency edges).
//
// Measured on the 2-core development machine while it was shared (load
// average 7-10): 2.7-3.0 CPU-seconds per check, 3.1-6.0 s wall, peak RSS
// 1.65-1.7 GB for the whole process, of which about 1 GB is the generated
// history itself:
//
//	/usr/bin/time -v go test -run XXX -bench BenchmarkAppend1M -benchtime 1x ./checker/txn
func BenchmarkAppend1M(b *testing.B) { benchAppend(b, 1_000_000, false) }

// BenchmarkAppend1MPlantedG2 is the same with one write-skew pair planted.
func BenchmarkAppend1MPlantedG2(b *testing.B) { benchAppend(b, 1_000_000, true) }

func BenchmarkAppend100K(b *testing.B) { benchAppend(b, 100_000, false) }
