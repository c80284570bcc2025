package suite

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// batchHeadroom is how far past the live heap BatchGC lets the heap grow
// before the next collection, at most.
const batchHeadroom = 384 << 20

// capHeadroom keeps the heap within batchHeadroom of what was live at the
// last collection, for the rest of the process: after every collection it
// sets the soft memory limit (debug.SetMemoryLimit) to the live heap, plus
// the runtime's memory outside the heap, plus batchHeadroom. GOGC alone
// sets the next collection in proportion to the live heap, which for a
// check of ten million transactions (5 GB live) is gigabytes of garbage
// on top of it; the limit makes the collector run sooner instead, and a
// collection there costs a fraction of a second, the large arrays of a
// check holding no pointers to scan. Below 2*batchHeadroom of live heap
// GOGC=50 comes first and the limit changes nothing.
//
// The limit is reset from a finalizer, which the runtime runs once after
// each collection that finds its object unreachable: the object is made
// anew each time. A limit set from a stale reading is only ever too high
// (the live heap grows between collections), never below what is live.
func capHeadroom() {
	headroomOn.Store(true)
	headroomOnce.Do(func() { armHeadroom() })
}

var (
	headroomOnce sync.Once
	// headroomOn: the finalizer sets the limit (tests turn it off).
	headroomOn atomic.Bool
)

// gcTick is allocated for its finalizer only; it is larger than the tiny
// allocator's 16 bytes, whose objects' finalizers need not run.
type gcTick struct{ _ [4]uint64 }

func armHeadroom() {
	runtime.SetFinalizer(new(gcTick), func(*gcTick) {
		if headroomOn.Load() {
			setHeadroomLimit()
		}
		armHeadroom()
	})
}

var headroomSamples = []metrics.Sample{
	{Name: "/gc/heap/live:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/free:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
}

// setHeadroomLimit sets the memory limit to the live heap plus the memory
// the runtime holds outside the heap's objects (stacks, metadata) plus
// batchHeadroom.
func setHeadroomLimit() {
	s := headroomSamples
	metrics.Read(s)
	for _, x := range s {
		if x.Value.Kind() != metrics.KindUint64 {
			return
		}
	}
	live := s[0].Value.Uint64()
	total, released := s[1].Value.Uint64(), s[2].Value.Uint64()
	heap := s[3].Value.Uint64() + s[4].Value.Uint64() + s[5].Value.Uint64()
	other := total - released - min(heap, total-released)
	debug.SetMemoryLimit(int64(live + other + batchHeadroom))
}
