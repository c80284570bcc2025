package control

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ProcStat is what /proc/PID/stat says of a process that faultline uses.
type ProcStat struct {
	// State is the state letter: R running, S sleeping, D in
	// uninterruptible sleep, T stopped by a signal, t stopped by a tracer,
	// Z zombie, X dead, and so on (see proc(5)).
	State byte
	// PPid is the parent's pid; Start the start time (field 22, clock
	// ticks since boot), which tells a process from a later one with its
	// pid.
	PPid  int
	Start uint64
}

// ReadProcStat reads /proc/PID/stat. When the process does not exist (or
// has been reaped) the error satisfies errors.Is(err, os.ErrNotExist).
// Without /proc (not Linux) every call fails.
func ReadProcStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			err = fmt.Errorf("%w: %w", os.ErrNotExist, err)
		}
		return ProcStat{}, err
	}
	// The command name is in parentheses and may contain anything, even
	// ')': the fields after the last ')' start at field 3 (state); ppid is
	// field 4, the start time field 22.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: malformed: %q", pid, b)
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 20 || len(f[0]) != 1 {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: malformed: %q", pid, b)
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: ppid: %w", pid, err)
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return ProcStat{State: f[0][0], PPid: ppid, Start: start}, nil
}

// ProcState returns the state letter of process pid (ProcStat.State); on
// any error the letter is 0.
func ProcState(pid int) (byte, error) {
	st, err := ReadProcStat(pid)
	return st.State, err
}

// Cmdline is process pid's command line, its arguments joined by spaces
// and cut at 200 bytes ("" if it cannot be read).
func Cmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	s := strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
