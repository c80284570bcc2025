package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The one-shot verbs a backend uses for processes it cannot reach itself
// (SSH): signal one, read its identity, list processes.
func init() {
	register("signal", "send a signal to a process (and its group); for STOP, wait until it has stopped", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("signal", stderr)
		name := fs.String("sig", "", "signal name: STOP, CONT, KILL, TERM, INT, …")
		pid := fs.Int("pid", 0, "process id")
		start := fs.Uint64("start", 0, "its start time (/proc/PID/stat field 22), to refuse a recycled pid")
		group := fs.Bool("group", false, "signal its process group too")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		sig := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(*name), "SIG"))
		if sig == 0 || *pid <= 0 {
			fmt.Fprintln(stderr, "usage: faultline agent signal --sig NAME --pid PID [--start T] [--group]")
			return exitUsage
		}
		p := Proc{Pid: *pid, Start: *start}
		if err := sendSignal(p, sig); err != nil {
			return fail(stderr, "signal", fmt.Errorf("%s to pid %d: %w", *name, *pid, err))
		}
		if *group {
			_ = syscall.Kill(-*pid, sig) // the group may be just the process
		}
		if sig == syscall.SIGSTOP {
			ps := []Proc{p}
			if *group {
				if tree, err := trees(ps); err == nil {
					ps = tree
				}
			}
			if err := waitStopped(ps, 2*time.Second); err != nil {
				return fail(stderr, "signal", err)
			}
		}
		return exitOK
	})
	register("stat", "print a process's pid, start time, parent and state (exit 3: no such process)", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("stat", stderr)
		pid := fs.Int("pid", 0, "process id")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		st, err := readStat(*pid)
		if err != nil || st.state == 'Z' || st.state == 'X' {
			if err == nil {
				err = errGone
			}
			return fail(stderr, "stat", fmt.Errorf("pid %d: %w", *pid, err))
		}
		fmt.Fprintf(stdout, "%d %d %d %c\n", *pid, st.start, st.ppid, st.state)
		return exitOK
	})
	register("ps", "list processes as JSON: those whose command line contains --pattern, or the trees of --root PIDs", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("ps", stderr)
		pattern := fs.String("pattern", "", "substring of the command line")
		var roots listFlag
		fs.Var(&roots, "root", "PID or PID@START of a tree's root (repeatable)")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		var ps []Proc
		var err error
		switch {
		case *pattern != "":
			ps, err = matching(*pattern)
		case len(roots) > 0:
			var rs []Proc
			for _, r := range roots {
				p, perr := parseProc(r)
				if perr != nil {
					return fail(stderr, "ps", perr)
				}
				rs = append(rs, p)
			}
			ps, err = trees(rs)
		default:
			ps, err = allProcs()
		}
		if err != nil {
			return fail(stderr, "ps", err)
		}
		for i := range ps {
			if ps[i].Cmd == "" {
				ps[i].Cmd = cmdline(ps[i].Pid)
			}
		}
		if ps == nil {
			ps = []Proc{}
		}
		if err := json.NewEncoder(stdout).Encode(ps); err != nil {
			return fail(stderr, "ps", err)
		}
		return exitOK
	})
}

// parseProc reads PID or PID@START.
func parseProc(s string) (Proc, error) {
	pid, start, _ := strings.Cut(s, "@")
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return Proc{}, fmt.Errorf("%q: want PID or PID@START", s)
	}
	p := Proc{Pid: n}
	if start != "" {
		if p.Start, err = strconv.ParseUint(start, 10, 64); err != nil {
			return Proc{}, fmt.Errorf("%q: want PID or PID@START", s)
		}
	}
	return p, nil
}
