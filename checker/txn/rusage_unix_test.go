//go:build unix

package txn

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used, and its
// peak resident set in bytes.
func cpuTime() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Maxrss) * 1024
}
