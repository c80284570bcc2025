package clock

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// ClockID is a Linux clock id, the first argument of clock_gettime(2).
type ClockID int

// The clock ids of linux/time.h.
const (
	Realtime        ClockID = 0
	Monotonic       ClockID = 1
	ProcessCPUTime  ClockID = 2
	ThreadCPUTime   ClockID = 3
	MonotonicRaw    ClockID = 4
	RealtimeCoarse  ClockID = 5
	MonotonicCoarse ClockID = 6
	Boottime        ClockID = 7
	RealtimeAlarm   ClockID = 8
	BoottimeAlarm   ClockID = 9
	TAI             ClockID = 11
)

var clockNames = map[ClockID]string{
	Realtime: "CLOCK_REALTIME", Monotonic: "CLOCK_MONOTONIC", ProcessCPUTime: "CLOCK_PROCESS_CPUTIME_ID",
	ThreadCPUTime: "CLOCK_THREAD_CPUTIME_ID", MonotonicRaw: "CLOCK_MONOTONIC_RAW",
	RealtimeCoarse: "CLOCK_REALTIME_COARSE", MonotonicCoarse: "CLOCK_MONOTONIC_COARSE",
	Boottime: "CLOCK_BOOTTIME", RealtimeAlarm: "CLOCK_REALTIME_ALARM", BoottimeAlarm: "CLOCK_BOOTTIME_ALARM",
	TAI: "CLOCK_TAI",
}

func (c ClockID) String() string {
	if n, ok := clockNames[c]; ok {
		return n
	}
	return fmt.Sprintf("clock(%d)", int(c))
}

// ClockSet is a set of clock ids: bit i stands for clock id i.
type ClockSet uint64

// WallClocks are the clocks that read the wall clock: CLOCK_REALTIME and its
// variants (coarse, alarm, TAI). It is the default set. Shifting CLOCK_REALTIME
// also shifts gettimeofday and time.
const WallClocks = ClockSet(1<<Realtime | 1<<RealtimeCoarse | 1<<RealtimeAlarm | 1<<TAI)

// Clocks makes a set of the given clocks.
func Clocks(ids ...ClockID) ClockSet {
	var s ClockSet
	for _, id := range ids {
		if id >= 0 && id < 64 {
			s |= 1 << id
		}
	}
	return s
}

// Has reports whether id is in the set.
func (s ClockSet) Has(id ClockID) bool { return id >= 0 && id < 64 && s&(1<<id) != 0 }

func (s ClockSet) String() string {
	var names []string
	for id := ClockID(0); id < 64; id++ {
		if s.Has(id) {
			names = append(names, id.String())
		}
	}
	return "{" + strings.Join(names, ",") + "}"
}

// Options tune Skew.
type Options struct {
	// Clocks are the clock ids whose readings are shifted. Zero means
	// WallClocks. Leave CLOCK_MONOTONIC alone unless the test is about it:
	// etcd's raft timers, Go's timers and time.Since all run on it.
	Clocks ClockSet
	// Children also skews every descendant process of pid (each has its own
	// address space, so each is patched separately). Children forked after
	// Skew inherit the patch without this option.
	Children bool

	_ struct{}
}

func (o Options) clocks() ClockSet {
	if o.Clocks == 0 {
		return WallClocks
	}
	return o.Clocks
}

// MaxOffset bounds the skew: the stub does its arithmetic in int64
// nanoseconds since the epoch, which must not overflow.
const MaxOffset = 100 * 365 * 24 * time.Hour

// Status is what Inspect reads back from a process.
type Status struct {
	// Skewed: the process's vDSO entries jump to a faultline stub.
	Skewed bool
	// Offset is the skew in effect (0 during Strobe's off phases).
	Offset time.Duration
	// Clocks are the shifted clock ids.
	Clocks ClockSet
	// Hooks are the patched vDSO functions.
	Hooks []Hook
	// Stub is the address of the stub page in the process (0 if none is
	// referenced by the vDSO).
	Stub uint64

	_ struct{}
}

// Hook is one patched vDSO function.
type Hook struct {
	Symbol string
	// Fast: unshifted calls run the original vDSO code (relocated prologue);
	// otherwise they are served by a real system call, which is slower.
	Fast bool
}

var (
	// ErrUnsupported: this platform, or this target (not an x86-64 process,
	// no vDSO), cannot be skewed.
	ErrUnsupported = errors.New("clock skew unsupported")
	// ErrNoProcess: the process does not exist (any more).
	ErrNoProcess = errors.New("no such process")
	// ErrPermission: ptrace was refused (not root or no CAP_SYS_PTRACE,
	// Yama ptrace_scope, or the process is already traced, e.g. by gdb or strace).
	ErrPermission = errors.New("ptrace not permitted")
	// ErrForeign: a vDSO entry was modified, but not by faultline.
	ErrForeign = errors.New("vDSO modified by someone else")
)

func checkArgs(pid int, offset time.Duration) error {
	if pid <= 0 {
		return fmt.Errorf("clock: pid %d: not a process id", pid)
	}
	if pid == os.Getpid() {
		return fmt.Errorf("clock: pid %d is this process: it cannot trace itself, and its vDSO is the pristine reference", pid)
	}
	if offset > MaxOffset || offset < -MaxOffset {
		return fmt.Errorf("clock: offset %v out of range (at most ±%v)", offset, MaxOffset)
	}
	return nil
}
