package hostnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// LockDir takes an exclusive flock on directory dir, creating it if need
// be, and waits for it until ctx ends. It is a host-wide lock: callers
// take it while they pick a subnet or decide what is a leftover, so those
// never interleave. unlock releases it (as does this process's death).
func LockDir(ctx context.Context, dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	if err := flockCtx(ctx, f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// flockCtx takes an exclusive flock on f, polling so that ctx can end the
// wait.
func flockCtx(ctx context.Context, f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
