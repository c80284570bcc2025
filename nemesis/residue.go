package nemesis

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/local"
)

// Residue is what an action leaves on the hosts while it is in effect,
// named so that it can be found again without the process that made it:
// HealJournal undoes the residue of every action its journal shows as not
// recovered.
type Residue struct {
	// Chains are faultline iptables chains holding the action's rules.
	Chains []ChainRef `json:"chains,omitempty"`
	// Stopped are processes the action stopped (SIGSTOP).
	Stopped []ProcRef `json:"stopped,omitempty"`
	// Skewed are processes whose clock the action skewed.
	Skewed []ProcRef `json:"skewed,omitempty"`
	// Killed are nodes whose service the action killed: restarting them
	// needs the target, so HealJournal only reports them.
	Killed []NodeRef `json:"killed,omitempty"`
	// Qdiscs are tc qdiscs (netem) the action added, by node and device.
	Qdiscs []QdiscRef `json:"qdiscs,omitempty"`
}

// NodeRef names a node so that it can be reached without its cluster
// object: for the local backend, by its network namespace.
type NodeRef struct {
	Node      string `json:"node"`
	Namespace string `json:"namespace,omitempty"`
}

// ChainRef is a faultline chain on a node.
type ChainRef struct {
	NodeRef
	Chain string `json:"chain"`
}

// QdiscRef is a root qdisc faultline added to a node's device.
type QdiscRef struct {
	NodeRef
	Dev string `json:"dev"`
}

// ProcRef names a process across time: its pid and its start time, so
// that a pid recycled by another process is never taken for it.
type ProcRef struct {
	Node      string `json:"node,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Pid       int    `json:"pid"`
	// Start is field 22 of /proc/<pid>/stat: clock ticks since boot.
	Start uint64 `json:"start"`
}

func (p ProcRef) String() string { return fmt.Sprintf("pid %d on %s", p.Pid, p.Node) }

// namespacer is the capability of control/local's Cluster to name a node's
// network namespace.
type namespacer interface {
	Namespace(node string) (string, error)
}

// processLister is the capability of control/local's Cluster to list the
// processes in a node.
type processLister interface {
	Processes(node string) ([]local.Proc, error)
}

func nodeRef(c control.Cluster, node string) NodeRef {
	r := NodeRef{Node: node}
	if ns, ok := c.(namespacer); ok {
		r.Namespace, _ = ns.Namespace(node)
	}
	return r
}

// nodeProcs lists the processes in node, with their start times. It needs
// a cluster that can list them (control/local).
func nodeProcs(c control.Cluster, node string) ([]ProcRef, error) {
	pl, ok := c.(processLister)
	if !ok {
		return nil, fmt.Errorf("listing the processes of %s: the %T backend cannot", node, c)
	}
	ps, err := pl.Processes(node)
	if err != nil {
		return nil, err
	}
	var out []ProcRef
	for _, p := range ps {
		st, err := readProcStat(p.Pid)
		if err != nil || st.state == 'Z' {
			continue // gone meanwhile
		}
		out = append(out, ProcRef{Node: node, Namespace: p.Namespace, Pid: p.Pid, Start: st.start})
	}
	slices.SortFunc(out, func(a, b ProcRef) int { return a.Pid - b.Pid })
	return out, nil
}

// procStat is what we read of /proc/<pid>/stat.
type procStat struct {
	state byte
	start uint64
}

var errGone = errors.New("process has gone")

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return procStat{}, errGone
		}
		return procStat{}, err
	}
	// The command name is in parentheses and may contain anything: parse
	// from the last ')'. Fields after it start at field 3 (state); start
	// time is field 22.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return procStat{state: f[0][0], start: start}, nil
}

// alive reports whether p is still the process it names, and its state.
func (p ProcRef) alive() (byte, bool) {
	st, err := readProcStat(p.Pid)
	if err != nil || st.start != p.Start || st.state == 'Z' || st.state == 'X' {
		return 0, false
	}
	return st.state, true
}

// cont sends SIGCONT to p if it is still the same process and is stopped.
// It reports whether it did.
func (p ProcRef) cont() (bool, error) {
	state, ok := p.alive()
	if !ok || (state != 'T' && state != 't') {
		return false, nil
	}
	if err := syscall.Kill(p.Pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return false, fmt.Errorf("SIGCONT to %s: %w", p, err)
	}
	return true, nil
}
