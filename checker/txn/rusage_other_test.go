//go:build !unix

package txn

import "time"

func cpuTime() (time.Duration, int64) { return 0, 0 }
