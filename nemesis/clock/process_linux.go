package clock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"

	"github.com/faultline-dev/faultline/internal/procfs"
	"golang.org/x/sys/unix"
)

func processStat(pid int) (procfs.Stat, error) { return procfs.ReadStat(pid) }

func threadStat(pid, tid int) (procfs.Stat, error) { return procfs.ReadTaskStat(pid, tid) }

// listTasks lists the thread ids of pid.
func listTasks(pid int) ([]int, error) {
	tids, err := procfs.Tasks(pid)
	if err != nil {
		return nil, procErr(pid, err)
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
		children[st.PPid] = append(children[st.PPid], p)
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
