package clock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Strobe flips the skew of pid between +delta and 0 every period for
// duration, then resets it (also when ctx ends early, in which case it
// returns ctx's error). The flips only rewrite the stub's offset; one tracer
// (a helper process if pid is our child) serves them all.
func Strobe(ctx context.Context, pid int, delta, period, duration time.Duration, opts Options) (err error) {
	if err := checkArgs(pid, delta); err != nil {
		return err
	}
	if period <= 0 {
		return fmt.Errorf("clock: strobe period %v must be positive", period)
	}
	var s session
	defer func() {
		err = errors.Join(err, reset(&s, pid), s.close())
	}()
	start := time.Now()
	on := true
	if err := skew(&s, pid, delta, opts); err != nil {
		return err
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if time.Since(start) >= duration {
			return nil
		}
		on = !on
		offset := time.Duration(0)
		if on {
			offset = delta
		}
		if err := skew(&s, pid, offset, opts); err != nil {
			return err
		}
	}
}
