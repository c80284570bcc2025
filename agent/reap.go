package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// reap kills what a run started on a node through spawn: every process
// recorded under DIR/procs, with its descendants, and waits until they
// have gone. Backends that reach nodes by commands call it at teardown,
// and heal calls it for runs whose controller died.
func init() {
	register("reap", "kill every process spawned under --dir, with its descendants, and wait until they have gone", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("reap", stderr)
		dir := fs.String("dir", "", "node directory the processes were spawned under")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		if *dir == "" {
			fmt.Fprintln(stderr, "usage: faultline agent reap --dir DIR")
			return exitUsage
		}
		killed, err := reap(*dir)
		for _, p := range killed {
			fmt.Fprintf(stdout, "killed pid %d: %s\n", p.Pid, p.Cmd)
		}
		if err != nil {
			return fail(stderr, "reap", err)
		}
		return exitOK
	})
}

// spawned lists the processes recorded under dir/procs that still run.
func spawned(dir string) ([]Proc, []string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "procs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var live []Proc
	var records []string
	for _, e := range entries {
		path := filepath.Join(dir, "procs", e.Name())
		records = append(records, path)
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		start, err2 := strconv.ParseUint(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		p := Proc{Pid: pid, Start: start}
		if _, ok := p.live(); ok {
			p.Cmd = cmdline(pid)
			live = append(live, p)
		}
	}
	return live, records, nil
}

func reap(dir string) ([]Proc, error) {
	roots, records, err := spawned(dir)
	if err != nil {
		return nil, err
	}
	killed, err := killTrees(roots, 10*time.Second)
	if err != nil {
		return killed, err
	}
	for _, r := range records {
		os.Remove(r)
	}
	return killed, nil
}

// killTrees SIGKILLs the trees rooted at roots (their process groups too)
// until none of their processes is left, or timeout.
func killTrees(roots []Proc, timeout time.Duration) ([]Proc, error) {
	if len(roots) == 0 {
		return nil, nil
	}
	deadline := time.Now().Add(timeout)
	seen := map[int]bool{}
	var killed []Proc
	for {
		ps, err := trees(roots)
		if err != nil {
			return killed, err
		}
		if len(ps) == 0 {
			return killed, nil
		}
		for _, p := range ps {
			if !seen[p.Pid] {
				seen[p.Pid] = true
				if p.Cmd == "" {
					p.Cmd = cmdline(p.Pid)
				}
				killed = append(killed, p)
			}
			_ = sendSignal(p, syscall.SIGKILL)
		}
		for _, r := range roots {
			if _, ok := r.live(); ok {
				_ = syscall.Kill(-r.Pid, syscall.SIGKILL)
			}
		}
		if time.Now().After(deadline) {
			var pids []int
			for _, p := range ps {
				pids = append(pids, p.Pid)
			}
			return killed, fmt.Errorf("processes %v still alive %v after SIGKILL", pids, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
