package suite

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

// TestCapHeadroom: after a collection, BatchGC's memory limit is the live
// heap plus batchHeadroom plus what the runtime holds outside the heap's
// objects, so that the heap cannot grow gigabytes past what is live.
func TestCapHeadroom(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(math.MaxInt64)
	defer headroomOn.Store(false)
	BatchGC()
	if got := debug.SetGCPercent(50); got != 50 {
		t.Fatalf("GOGC %d, want 50", got)
	}
	keep := make([]byte, 64<<20) // live heap the limit must be above
	for range 3 {
		runtime.GC() // the finalizer runs after a collection: one more
	}
	limit := debug.SetMemoryLimit(-1)
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	live, total := int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
	if limit == math.MaxInt64 {
		t.Fatal("no memory limit set after collections")
	}
	if limit < live+batchHeadroom || limit > total+batchHeadroom {
		t.Fatalf("memory limit %d MB, want the live heap (%d MB) + %d MB, and at most the runtime's total (%d MB) + that", limit>>20, live>>20, batchHeadroom>>20, total>>20)
	}
	runtime.KeepAlive(keep)
}
