package agent

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/procfs"
)

// Proc names a process across time on the node the agent runs on: its pid
// and its start time (field 22 of /proc/PID/stat, clock ticks since boot),
// so that a pid recycled by another process is never taken for it.
type Proc struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
	// PPid, State and Cmd are informative, as read when listed.
	PPid  int    `json:"ppid,omitempty"`
	State string `json:"state,omitempty"`
	Cmd   string `json:"cmd,omitempty"`
}

func (p Proc) String() string { return "pid " + strconv.Itoa(p.Pid) }

// stat is what the agent reads of /proc/PID/stat.
type stat struct {
	state byte
	ppid  int
	start uint64
}

var errGone = errors.New("no such process")

func readStat(pid int) (stat, error) {
	st, err := control.ReadProcStat(pid)
	if errors.Is(err, os.ErrNotExist) {
		return stat{}, errGone
	}
	return stat{state: st.State, ppid: st.PPid, start: st.Start}, err
}

// live reports whether p still names the same process, and its state; a
// zombie is not live.
func (p Proc) live() (byte, bool) {
	st, err := readStat(p.Pid)
	if err != nil || (p.Start != 0 && st.start != p.Start) || st.state == 'Z' || st.state == 'X' {
		return 0, false
	}
	return st.state, true
}

// procOf reads pid's identity now.
func procOf(pid int) (Proc, error) {
	st, err := readStat(pid)
	if err != nil {
		return Proc{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return Proc{Pid: pid, Start: st.start, PPid: st.ppid, State: string(st.state), Cmd: cmdline(pid)}, nil
}

func cmdline(pid int) string { return control.Cmdline(pid) }

// allProcs lists every process the agent can see in its own network
// namespace (on a dedicated host, every process; on a node that is a
// network namespace of a shared host, the node's own), except itself.
func allProcs() ([]Proc, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	myNet, _ := os.Readlink("/proc/self/ns/net")
	var out []Proc
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == self {
			continue
		}
		if myNet != "" {
			if ns, err := os.Readlink("/proc/" + n + "/ns/net"); err != nil || ns != myNet {
				continue
			}
		}
		st, err := readStat(pid)
		if err != nil || st.state == 'Z' || st.state == 'X' {
			continue
		}
		out = append(out, Proc{Pid: pid, Start: st.start, PPid: st.ppid, State: string(st.state)})
	}
	slices.SortFunc(out, func(a, b Proc) int { return a.Pid - b.Pid })
	return out, nil
}

// trees lists the processes of the trees rooted at roots (each root that
// still runs, then its descendants, parents before children), each once.
func trees(roots []Proc) ([]Proc, error) {
	all, err := allProcs()
	if err != nil {
		return nil, err
	}
	kids := map[int][]Proc{}
	for _, p := range all {
		kids[p.PPid] = append(kids[p.PPid], p)
	}
	seen := map[int]bool{}
	var out []Proc
	var walk func(p Proc)
	walk = func(p Proc) {
		if seen[p.Pid] {
			return
		}
		seen[p.Pid] = true
		out = append(out, p)
		for _, k := range kids[p.Pid] {
			walk(k)
		}
	}
	for _, r := range roots {
		if _, ok := r.live(); !ok {
			continue
		}
		p, err := procOf(r.Pid)
		if err != nil {
			continue
		}
		walk(p)
	}
	return out, nil
}

// matching lists the processes whose command line contains pattern,
// oldest first, without the agent's own.
func matching(pattern string) ([]Proc, error) {
	all, err := allProcs()
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, p := range all {
		cmd := cmdline(p.Pid)
		if cmd != "" && strings.Contains(cmd, pattern) && !isAgent(cmd) {
			p.Cmd = cmd
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Proc) int {
		if a.Start != b.Start {
			return int(a.Start - b.Start)
		}
		return a.Pid - b.Pid
	})
	return out, nil
}

// isAgent tells faultline's agent invocations (and the shells that start
// them) from the processes they look for.
func isAgent(cmd string) bool {
	f := strings.Fields(cmd)
	return slices.Contains(f, "agent") && (strings.Contains(cmd, "faultline") || strings.Contains(cmd, "--dir"))
}

// sendSignal sends sig to p if it is still the same process.
func sendSignal(p Proc, sig syscall.Signal) error {
	if _, ok := p.live(); !ok {
		return errGone
	}
	err := syscall.Kill(p.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return errGone
	}
	return err
}

// allThreadsStopped reports whether every thread of pid is stopped (or the
// process has gone).
func allThreadsStopped(pid int) bool {
	states, err := procfs.ThreadStates(pid)
	if err != nil {
		return true // gone
	}
	for _, st := range states {
		switch st {
		case 'T', 't', 'Z', 'X':
		default:
			return false
		}
	}
	return true
}

// waitStopped returns once every thread of every process in ps is stopped
// (signals are delivered asynchronously: a request read just after
// SIGSTOP could otherwise still be served), or after timeout.
func waitStopped(ps []Proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var running []int
		for _, p := range ps {
			if _, ok := p.live(); ok && !allThreadsStopped(p.Pid) {
				running = append(running, p.Pid)
			}
		}
		if len(running) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v not stopped %v after SIGSTOP", running, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}
