package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/hostnet"
)

// Report says what Teardown or Cleanup removed, and which runs Cleanup left
// alone because they are alive.
type Report struct {
	Processes  []Proc
	Namespaces []string
	Links      []string
	LockFiles  []string
	Dirs       []string // run directories under control.Home
	Skipped    []LiveRun

	_ struct{}
}

// LiveRun is a run whose lock is held by a live process.
type LiveRun struct {
	RunID    string
	Pid      int  // the process that created it
	Detached bool // made by `faultline cluster up`
}

// Empty reports whether nothing was removed.
func (r Report) Empty() bool {
	return len(r.Processes)+len(r.Namespaces)+len(r.Links)+len(r.LockFiles)+len(r.Dirs) == 0
}

func (r *Report) merge(o Report) {
	r.Processes = append(r.Processes, o.Processes...)
	r.Namespaces = append(r.Namespaces, o.Namespaces...)
	r.Links = append(r.Links, o.Links...)
	r.LockFiles = append(r.LockFiles, o.LockFiles...)
	r.Dirs = append(r.Dirs, o.Dirs...)
	r.Skipped = append(r.Skipped, o.Skipped...)
}

// String is the report as people read it, one line per thing.
func (r Report) String() string {
	var b strings.Builder
	for _, p := range r.Processes {
		fmt.Fprintf(&b, "killed process %d in %s: %s\n", p.Pid, p.Namespace, p.Cmdline)
	}
	for _, n := range r.Namespaces {
		fmt.Fprintf(&b, "deleted namespace %s\n", n)
	}
	for _, l := range r.Links {
		fmt.Fprintf(&b, "deleted link %s\n", l)
	}
	for _, f := range r.LockFiles {
		fmt.Fprintf(&b, "removed %s\n", f)
	}
	for _, d := range r.Dirs {
		fmt.Fprintf(&b, "removed %s (node data of the run)\n", d)
	}
	for _, s := range r.Skipped {
		what := "in use by pid"
		if s.Detached {
			what = "a detached cluster (faultline cluster down removes it), made by pid"
		}
		fmt.Fprintf(&b, "left run %s alone: %s %d\n", s.RunID, what, s.Pid)
	}
	if b.Len() == 0 {
		return "nothing to remove\n"
	}
	return b.String()
}

// CleanupOptions say what Cleanup may remove besides leftovers of runs
// whose controller is gone.
type CleanupOptions struct {
	// Detached also removes clusters made to outlive their creator
	// (faultline cluster up) whose processes are still running.
	Detached bool

	_ struct{}
}

// Cleanup finds, by faultline's names, what runs of this package left on
// the host and removes it: processes inside their namespaces (killed
// first), the controller-side veths, the namespaces (and with them their
// bridges, links and iptables chains) and the lock files. A run whose lock
// is still held by a live controller is left alone and listed in
// Report.Skipped; so is a detached cluster unless opts.Detached.
func Cleanup(ctx context.Context, opts CleanupOptions) (Report, error) {
	var rep Report
	if os.Geteuid() != 0 {
		return rep, errors.New("cleaning up faultline's namespaces needs root: run faultline heal with sudo")
	}
	unlock, err := hostnet.LockDir(ctx, lockDir)
	if err != nil {
		return rep, err
	}
	defer unlock()

	ids, err := leftoverRunIDs()
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, id := range ids {
		alive, meta := runLockState(id)
		if alive && !(opts.Detached && meta.Detached) {
			rep.Skipped = append(rep.Skipped, LiveRun{RunID: id, Pid: meta.Pid, Detached: meta.Detached})
			continue
		}
		r, err := removeRun(ctx, id)
		rep.merge(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

// leftoverRunIDs lists the run ids named by namespaces, host links and lock
// files on this host.
func leftoverRunIDs() ([]string, error) {
	set := map[string]bool{}
	names, err := hostnet.ListNamespaces()
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	for _, n := range names {
		if id, _, ok := parseNamespace(n); ok {
			set[id] = true
		}
	}
	links, err := hostnet.RetryDump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	for _, l := range links {
		if m := hostLinkRe.FindStringSubmatch(l.Attrs().Name); m != nil && l.Type() == "veth" {
			set[m[1]] = true
		}
	}
	if entries, err := os.ReadDir(lockDir); err == nil {
		for _, e := range entries {
			if id, ok := strings.CutSuffix(e.Name(), ".lock"); ok && checkRunID(id) == nil {
				set[id] = true
			}
		}
	}
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// removeRun kills the processes in run id's namespaces and deletes the
// host veth, the namespaces and the lock file, reporting what it removed.
func removeRun(ctx context.Context, id string) (Report, error) {
	var rep Report
	var errs []error

	all, err := hostnet.ListNamespaces()
	if err != nil {
		return rep, fmt.Errorf("listing namespaces: %w", err)
	}
	var nss []string
	inodes := map[uint64]string{}
	for _, n := range all {
		if rid, _, ok := parseNamespace(n); ok && rid == id {
			nss = append(nss, n)
			if ino, err := hostnet.NamespaceInode(n); err == nil {
				inodes[ino] = n
			}
		}
	}
	// Nodes before the hub, so links go from the leaves inwards.
	slices.SortFunc(nss, func(a, b string) int {
		ah, bh := strings.HasSuffix(a, "-"+hubName), strings.HasSuffix(b, "-"+hubName)
		switch {
		case ah == bh:
			return strings.Compare(a, b)
		case ah:
			return 1
		default:
			return -1
		}
	})

	killed, err := killAll(ctx, inodes)
	rep.Processes = killed
	if err != nil {
		// A namespace with a live process would outlive its name: stop here
		// so that a later Cleanup finds it again.
		return rep, fmt.Errorf("run %s: %w", id, err)
	}

	if deleted, err := hostnet.DeleteLink(hostLinkName(id)); err != nil {
		errs = append(errs, err)
	} else if deleted {
		rep.Links = append(rep.Links, hostLinkName(id))
	}
	for _, n := range nss {
		if err := hostnet.DeleteNamespace(n); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Namespaces = append(rep.Namespaces, n)
	}
	// The node directories it made under control.Home (a run with a
	// store keeps them in the store, whose heal removes the data).
	if removed, err := control.RemoveRunDir(id); err != nil {
		errs = append(errs, err)
	} else if removed {
		rep.Dirs = append(rep.Dirs, control.RunDir(id))
	}
	if err := os.Remove(runLockPath(id)); err == nil {
		rep.LockFiles = append(rep.LockFiles, runLockPath(id))
	} else if !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// killAll SIGKILLs every process in the namespaces and waits until none is
// left (zombies hold no namespace, so they do not count).
func killAll(ctx context.Context, inodes map[uint64]string) ([]Proc, error) {
	var killed []Proc
	seen := map[int]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		procs := procsInNamespaces(inodes)
		if len(procs) == 0 {
			return killed, nil
		}
		for _, p := range procs {
			if !seen[p.Pid] {
				seen[p.Pid] = true
				killed = append(killed, p)
			}
			_ = syscall.Kill(p.Pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return killed, fmt.Errorf("processes still alive 10 s after SIGKILL: %v", pids(procs))
		}
		select {
		case <-ctx.Done():
			return killed, fmt.Errorf("killing processes %v: %w", pids(procs), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func pids(ps []Proc) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.Pid
	}
	return out
}
