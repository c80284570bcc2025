// Package procfs is faultline's one reader of /proc/PID/stat and
// /proc/PID/task/TID/stat: the process state letter, the parent and the
// start time, parsed from after the last ')' (the command name in
// parentheses may hold anything, ')' and spaces included). The agent, the
// local backend, the clock nemesis and the test nodes all read processes
// through it. No library is used: the Prometheus procfs package parses far
// more than these three fields and allocates accordingly, and these
// readers run in loops that wait for SIGSTOP to land.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// Stat is the part of a stat file faultline uses.
type Stat struct {
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

// ReadStat reads /proc/PID/stat. When the process does not exist (or has
// been reaped) the error satisfies errors.Is(err, os.ErrNotExist). Without
// /proc (not Linux) every call fails.
func ReadStat(pid int) (Stat, error) {
	return readFile("/proc/" + strconv.Itoa(pid) + "/stat")
}

// ReadTaskStat reads /proc/PID/task/TID/stat, the stat of one thread.
func ReadTaskStat(pid, tid int) (Stat, error) {
	return readFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/stat")
}

func readFile(path string) (Stat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			err = fmt.Errorf("%w: %w", os.ErrNotExist, err)
		}
		return Stat{}, err
	}
	return Parse(path, b)
}

// Parse parses the content b of a stat file (path names it in errors).
func Parse(path string, b []byte) (Stat, error) {
	// The fields after the last ')' start at field 3 (state); ppid is
	// field 4, the start time field 22.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return Stat{}, fmt.Errorf("%s: malformed: %q", path, b)
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("%s: malformed: %q", path, b)
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return Stat{}, fmt.Errorf("%s: ppid: %w", path, err)
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("%s: start time: %w", path, err)
	}
	return Stat{State: f[0][0], PPid: ppid, Start: start}, nil
}

// Tasks lists the thread ids of pid, in /proc's order.
func Tasks(pid int) ([]int, error) {
	d, err := os.Open("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// ThreadStates returns the state letter of each live thread of pid
// (threads that exit while it reads are left out). It fails when pid has
// gone.
func ThreadStates(pid int) ([]byte, error) {
	tids, err := Tasks(pid)
	if err != nil {
		return nil, err
	}
	states := make([]byte, 0, len(tids))
	for _, tid := range tids {
		st, err := ReadTaskStat(pid, tid)
		if err != nil {
			continue // the thread has gone
		}
		states = append(states, st.State)
	}
	return states, nil
}
