// Command clockprobe reports its clocks, for the tests of package clock.
//
// For each line read on stdin (or, with -tick, every 100 ms) it prints
//
//	wall=<time.Now().UnixNano()> unix=<time.Now().Unix()> mono=<ns since start, monotonic> calls=<n> glitches=<n> worst=<ns>
//
// With -busy N it also runs N goroutines that call time.Now in a loop and
// count glitches: readings whose wall clock is off by neither 0 nor -expect's value
// (the skews the test applies), beyond what a delay of the reading explains
// (a thread stopped or descheduled between the wall and the monotonic read
// inside time.Now). A torn or garbage value from a half-patched process would
// be one.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

var sink atomic.Pointer[[]byte] // keeps allocations on the heap

func main() {
	tick := flag.Bool("tick", false, "print every 100 ms instead of once per stdin line")
	busy := flag.Int("busy", 0, "goroutines that read the clock in a loop")
	expect := flag.Duration("expect", 0, "the skew the busy goroutines may see besides 0")
	flag.Parse()

	start := time.Now()
	var calls, glitches, worst atomic.Int64
	const tolerance = int64(20 * time.Millisecond)
	// drift is wall minus monotonic since start; a delay d between the two
	// reads inside time.Now lowers it by d, and d <= delay.
	ok := func(drift, want, delay int64) bool { return drift <= want+tolerance && drift >= want-delay-tolerance }
	for i := 0; i < *busy; i++ {
		go func() {
			for n := 0; ; n++ {
				m0 := time.Since(start) // monotonic only
				t := time.Now()         // wall, then monotonic
				mono := t.Sub(start)
				drift := t.UnixNano() - start.UnixNano() - int64(mono)
				delay := int64(mono - m0)
				if !ok(drift, 0, delay) && !ok(drift, int64(*expect), delay) {
					glitches.Add(1)
					worst.Store(drift)
				}
				calls.Add(1)
				if n%1024 == 0 {
					b := make([]byte, 4096) // keep the GC and its threads busy too
					sink.Store(&b)
				}
			}
		}()
	}

	report := func() {
		now := time.Now()
		fmt.Printf("wall=%d unix=%d mono=%d calls=%d glitches=%d worst=%d\n",
			now.UnixNano(), now.Unix(), int64(time.Since(start)), calls.Load(), glitches.Load(), worst.Load())
	}
	if *tick {
		for range time.Tick(100 * time.Millisecond) {
			report()
		}
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		report()
	}
}
