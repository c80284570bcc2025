package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/control"
)

// The postmaster's children (backends, checkpointer, walwriter, …) are
// reached by running ps and kill on the server's node through the
// cluster, so this works on every control backend. They are found by their
// parent pid, the postmaster's, never by name.

// proc is a process on the server's node and its ps state letter.
type proc struct {
	pid   int
	state byte
}

func pidsOf(ps []proc) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.pid
	}
	return out
}

// children lists the postmaster's children.
func (t *Target) children(ctx context.Context, ppid int) ([]proc, error) {
	return t.ps(ctx, "--ppid", strconv.Itoa(ppid))
}

// ps lists the processes that match the selection args with their states.
func (t *Target) ps(ctx context.Context, args ...string) ([]proc, error) {
	out, err := t.cluster.Exec(ctx, t.server.Name, control.Cmd{Path: "ps", Args: append([]string{"-o", "pid=,stat="}, args...)})
	var ee *control.ExitError
	if errors.As(err, &ee) && ee.Status.Code == 1 && len(bytes.TrimSpace(out)) == 0 {
		return nil, nil // nothing matched
	}
	if err != nil {
		return nil, fmt.Errorf("listing processes (ps %s): %w", strings.Join(args, " "), err)
	}
	var ps []proc
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("ps printed %q", line)
		}
		ps = append(ps, proc{pid: pid, state: f[1][0]})
	}
	return ps, nil
}

// signalPids sends sig (a name: STOP, CONT, KILL) to pids. A process that
// has exited meanwhile is not an error.
func (t *Target) signalPids(ctx context.Context, sig string, pids []int) error {
	if len(pids) == 0 {
		return nil
	}
	args := []string{"-s", sig}
	for _, p := range pids {
		args = append(args, strconv.Itoa(p))
	}
	_, err := t.cluster.Exec(ctx, t.server.Name, control.Cmd{Path: "kill", Args: args})
	var ee *control.ExitError
	if errors.As(err, &ee) {
		// kill fails when any pid has gone; the rest were signalled.
		return nil
	}
	if err != nil {
		return fmt.Errorf("kill -s %s: %w", sig, err)
	}
	return nil
}

// waitGone returns once none of pids is alive (a zombie holds nothing, so
// it counts as gone).
func (t *Target) waitGone(ctx context.Context, pids []int) error {
	if len(pids) == 0 {
		return nil
	}
	list := make([]string, len(pids))
	for i, p := range pids {
		list[i] = strconv.Itoa(p)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps, err := t.ps(ctx, "-p", strings.Join(list, ","))
		if err != nil {
			return err
		}
		var alive []int
		for _, p := range ps {
			if p.state != 'Z' {
				alive = append(alive, p.pid)
			}
		}
		if len(alive) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still alive 10 s after SIGKILL", alive)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
