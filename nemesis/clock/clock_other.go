//go:build !(linux && amd64)

package clock

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

func unsupported() error {
	return fmt.Errorf("clock: %s/%s: %w (the vDSO patch is x86-64 Linux only)", runtime.GOOS, runtime.GOARCH, ErrUnsupported)
}

// Skew is unsupported on this platform.
func Skew(pid int, offset time.Duration, opts Options) error { return unsupported() }

// Reset is unsupported on this platform.
func Reset(pid int) error { return unsupported() }

// Offset is unsupported on this platform.
func Offset(pid int) (time.Duration, bool, error) { return 0, false, unsupported() }

// Inspect is unsupported on this platform.
func Inspect(pid int) (Status, error) { return Status{}, unsupported() }

// FindSkewed is unsupported on this platform.
func FindSkewed() ([]int, error) { return nil, unsupported() }

// Strobe is unsupported on this platform.
func Strobe(ctx context.Context, pid int, delta, period, duration time.Duration, opts Options) error {
	return unsupported()
}
