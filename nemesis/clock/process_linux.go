package clock

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

// procStat is the part of /proc/PID/stat (or /proc/PID/task/TID/stat) we use.
type procStat struct {
	state byte // R, S, D, T (stopped), t (tracing stop), Z, X, ...
	ppid  int
}

func readStat(path string) (procStat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may contain anything: parse
	// from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, fmt.Errorf("%s: malformed", path)
	}
	fields := bytes.Fields(b[i+2:])
	if len(fields) < 2 || len(fields[0]) != 1 {
		return procStat{}, fmt.Errorf("%s: malformed", path)
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return procStat{}, fmt.Errorf("%s: malformed ppid: %w", path, err)
	}
	return procStat{state: fields[0][0], ppid: ppid}, nil
}

func processStat(pid int) (procStat, error) {
	return readStat(fmt.Sprintf("/proc/%d/stat", pid))
}

func threadStat(pid, tid int) (procStat, error) {
	return readStat(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
}

// listTasks lists the thread ids of pid.
func listTasks(pid int) ([]int, error) {
	d, err := os.Open(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, procErr(pid, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, procErr(pid, err)
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	sort.Ints(tids)
	return tids, nil
}

// allPids lists the processes in /proc.
func allPids() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// descendants lists the descendants of pid (not pid itself), parents before
// their children.
func descendants(pid int) ([]int, error) {
	pids, err := allPids()
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, p := range pids {
		st, err := processStat(p)
		if err != nil {
			continue // gone meanwhile
		}
		children[st.ppid] = append(children[st.ppid], p)
	}
	var out []int
	queue := []int{pid}
	seen := map[int]bool{pid: true}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out, nil
}

// procErr turns "no such file" under /proc/PID into ErrNoProcess.
func procErr(pid int, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("clock: pid %d: %w", pid, ErrNoProcess)
	}
	return fmt.Errorf("clock: pid %d: %w", pid, err)
}
