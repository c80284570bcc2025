package controller

import (
	"fmt"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/histories"
)

// startProgress shows elapsed / limit, ops/s and ok/fail/info (and the
// current faults): a line redrawn every second on a terminal, a plain line
// every 10 s otherwise. The returned func stops it and waits.
func startProgress(o Options, plan Plan, c *counters, rec *histories.Recorder) func() {
	if o.Progress == nil {
		return func() {}
	}
	every := 10 * time.Second
	if o.Terminal {
		every = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		var lastN int64
		last := time.Now()
		for {
			select {
			case <-done:
				if o.Terminal {
					fmt.Fprint(o.Progress, "\r\033[K")
				}
				return
			case now := <-t.C:
				n := c.completed.Load()
				rate := float64(n-lastN) / now.Sub(last).Seconds()
				lastN, last = n, now
				faults := ""
				if c.faults != nil {
					faults = c.faults()
				}
				if faults == "" {
					faults = "none"
				}
				line := fmt.Sprintf("%s / %s  %6.0f ops/s  ok %d  fail %d  info %d  faults: %s",
					time.Duration(rec.Now()).Truncate(time.Second), plan.TimeLimit, rate, c.ok.Load(), c.fail.Load(), c.info.Load(), faults)
				if o.Terminal {
					fmt.Fprint(o.Progress, "\r\033[K"+line)
				} else {
					fmt.Fprintln(o.Progress, line)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
