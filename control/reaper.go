package control

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ReapGrace is how long a zombie child may wait for its own Wait before the
// subreaper reaps it. Code in this process that starts children must Wait
// for them within this time (os/exec's Run, Output and a goroutine calling
// Wait right after Start all do), or the reaper may take the exit status.
const ReapGrace = time.Second

var reaper struct {
	once sync.Once
	err  error
}

// BecomeSubreaper makes this process a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER): orphans of processes it started are
// re-parented to it instead of to PID 1, which on some hosts reaps slowly
// and so leaves zombies that break restarts (a stale pid file still names a
// live pid). It also starts a reaper that reaps those orphans once they
// have been zombies for ReapGrace. Calling it again is a no-op.
func BecomeSubreaper() error {
	reaper.once.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			reaper.err = fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
			return
		}
		go reapLoop()
	})
	return reaper.err
}

// reapLoop runs for the life of the process: the subreaper role cannot be
// given back while orphans may still arrive.
func reapLoop() {
	seen := map[int]time.Time{} // zombie child pid -> first seen
	tick := time.NewTicker(ReapGrace / 4)
	defer tick.Stop()
	for range tick.C {
		reapOnce(seen, time.Now())
	}
}

// reapOnce reaps zombie children of this process that have been zombies for
// at least ReapGrace. Direct children whose owner waits promptly are reaped
// by that Wait long before.
func reapOnce(seen map[int]time.Time, now time.Time) {
	zombies := zombieChildren(os.Getpid())
	live := make(map[int]bool, len(zombies))
	for _, pid := range zombies {
		live[pid] = true
		first, ok := seen[pid]
		if !ok {
			seen[pid] = now
			continue
		}
		if now.Sub(first) < ReapGrace {
			continue
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		delete(seen, pid)
	}
	for pid := range seen {
		if !live[pid] {
			delete(seen, pid)
		}
	}
}

// zombieChildren lists the pids of zombie processes whose parent is ppid.
func zombieChildren(ppid int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		state, parent, _, ok := procStat(pid)
		if ok && state == 'Z' && parent == ppid {
			out = append(out, pid)
		}
	}
	return out
}

// procStat is ReadProcStat as the reaper and Owner use it.
func procStat(pid int) (state byte, ppid int, start uint64, ok bool) {
	st, err := ReadProcStat(pid)
	return st.State, st.PPid, st.Start, err == nil
}
