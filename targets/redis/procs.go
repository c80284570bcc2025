package redis

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/targets"
)

// procKind is one of the two processes a node runs.
type procKind int

const (
	serverProc procKind = iota
	sentinelProc
)

func (k procKind) String() string {
	if k == sentinelProc {
		return "sentinel"
	}
	return "server"
}

// nodeProcs are a node's running processes, or nil.
type nodeProcs struct {
	server, sentinel control.Process
}

func (np *nodeProcs) get(k procKind) *control.Process {
	if k == sentinelProc {
		return &np.sentinel
	}
	return &np.server
}

// pidFile is where the server or sentinel writes its pid (a file in the
// node's own directory: the default, /var/run/redis_6379.pid, would be
// shared by every namespace on a host).
func (t *Target) pidFile(node string, k procKind) string {
	if k == sentinelProc {
		return filepath.Join(t.confDir(node), "redis-sentinel.pid")
	}
	return filepath.Join(t.confDir(node), "redis-server.pid")
}

// running returns node's process of kind k, or nil if none runs. A
// process another faultline process started (cluster up) is found by its
// pid file when the cluster can adopt processes.
func (t *Target) running(ctx context.Context, node string, k procKind) control.Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	np := t.procs[node]
	if np == nil {
		return nil
	}
	slot := np.get(k)
	if p := *slot; p != nil {
		select {
		case <-p.Done():
			*slot = nil
		default:
			return p
		}
	}
	b, err := t.cluster.ReadFile(ctx, node, t.pidFile(node, k))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return nil
	}
	// A pid file a kill left behind names a process that has gone: Adopt
	// refuses it.
	p, err := t.cluster.Adopt(ctx, node, pid)
	if err != nil {
		return nil
	}
	*slot = p
	return p
}

func (t *Target) remember(node string, k procKind, p control.Process) {
	t.mu.Lock()
	*t.procs[node].get(k) = p
	t.mu.Unlock()
}

func (t *Target) forget(node string, k procKind, p control.Process) {
	t.mu.Lock()
	if slot := t.procs[node].get(k); *slot == p {
		*slot = nil
	}
	t.mu.Unlock()
}

// bins are the executables on a node.
type bins struct {
	server string
	// sentinel is redis-sentinel, or "" when the node has none: the server
	// binary then runs with --sentinel (the same program).
	sentinel string
}

// findBins finds redis-server and redis-sentinel on node's PATH, once.
func (t *Target) findBins(ctx context.Context, node string) (bins, error) {
	t.mu.Lock()
	b, ok := t.bins[node]
	t.mu.Unlock()
	if ok {
		return b, nil
	}
	const script = `command -v redis-server || echo -; command -v redis-sentinel || echo -`
	out, err := t.cluster.Exec(ctx, node, control.Cmd{Path: "/bin/sh", Args: []string{"-c", script}})
	if err != nil {
		return b, fmt.Errorf("redis: looking for redis-server on %s: %w", node, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] == "-" {
		return b, fmt.Errorf("redis: no redis-server on %s: install it (apt-get install redis-server redis-sentinel)", node)
	}
	b.server = f[0]
	if f[1] != "-" {
		b.sentinel = f[1]
	}
	t.mu.Lock()
	t.bins[node] = b
	t.mu.Unlock()
	return b, nil
}

// user is the OS user node's processes run as: Options.User if the node
// has it, else root ("").
func (t *Target) user(ctx context.Context, node string) (string, error) {
	t.mu.Lock()
	u, ok := t.users[node]
	t.mu.Unlock()
	if ok {
		return u, nil
	}
	_, err := t.cluster.Exec(ctx, node, control.Cmd{Path: "id", Args: []string{"-u", t.opts.User}})
	var ee *control.ExitError
	switch {
	case errors.As(err, &ee):
		u = "" // no such user: root
	case err != nil:
		return "", fmt.Errorf("redis: looking for the %s user on %s: %w", t.opts.User, node, err)
	default:
		u = t.opts.User
	}
	t.mu.Lock()
	t.users[node] = u
	t.mu.Unlock()
	return u, nil
}

// command is how node runs bin with args: through setpriv as the user
// (setpriv execs, so the process the cluster starts and signals is bin
// itself), or directly as root.
func (t *Target) command(ctx context.Context, node, bin string, args ...string) (control.Cmd, error) {
	u, err := t.user(ctx, node)
	if err != nil {
		return control.Cmd{}, err
	}
	if u == "" {
		return control.Cmd{Path: bin, Args: args}, nil
	}
	return control.Cmd{Path: "setpriv", Args: append([]string{"--reuid=" + u, "--regid=" + u, "--init-groups", "--", bin}, args...)}, nil
}

// makeDirs makes node's data and configuration directories, owned by the
// user the servers run as (they write both: Sentinel and CONFIG REWRITE
// rewrite their configuration files in place).
func (t *Target) makeDirs(ctx context.Context, node string) error {
	dirs := []string{t.dataDir(node), t.confDir(node)}
	for _, d := range dirs {
		if err := t.cluster.MkdirAll(ctx, node, d, 0o750); err != nil {
			return fmt.Errorf("redis on %s: %w", node, err)
		}
	}
	if err := t.chown(ctx, node, dirs...); err != nil {
		return err
	}
	return t.checkReachable(ctx, node, t.dataDir(node))
}

// chown gives paths on node to the user the servers run as.
func (t *Target) chown(ctx context.Context, node string, paths ...string) error {
	u, err := t.user(ctx, node)
	if err != nil || u == "" {
		return err
	}
	if _, err := t.cluster.Exec(ctx, node, control.Cmd{Path: "chown", Args: append([]string{u + ":" + u}, paths...)}); err != nil {
		return fmt.Errorf("redis on %s: giving %s to the %s user: %w", node, strings.Join(paths, " "), u, err)
	}
	return nil
}

// checkReachable fails, saying how to fix it, when the servers' user
// cannot write dir: typically a parent directory only root may search.
func (t *Target) checkReachable(ctx context.Context, node, dir string) error {
	cmd, err := t.command(ctx, node, "test", "-w", dir, "-a", "-x", dir)
	if err != nil {
		return err
	}
	_, err = t.cluster.Exec(ctx, node, cmd)
	var ee *control.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("redis setup on %s: the %s user cannot write %s: every directory above it must be searchable by others (chmod o+x), which is not so under /root or a directory made by mktemp; put the store elsewhere (e.g. --store /var/tmp/faultline)", node, t.opts.User, dir)
	}
	if err != nil {
		return fmt.Errorf("redis setup on %s: checking that %s can write %s: %w", node, t.opts.User, dir, err)
	}
	return nil
}

// startServer starts node's redis-server on its configuration.
func (t *Target) startServer(ctx context.Context, node string) error {
	b, err := t.findBins(ctx, node)
	if err != nil {
		return err
	}
	cmd, err := t.command(ctx, node, b.server, t.serverConf(node))
	if err != nil {
		return err
	}
	cmd.LogPath = t.serverLog(node)
	cmd.Dir = t.dataDir(node)
	p, err := t.cluster.Start(ctx, node, cmd)
	if err != nil {
		return fmt.Errorf("redis start of the server on %s: %w", node, err)
	}
	t.remember(node, serverProc, p)
	return nil
}

// startSentinel starts node's redis-sentinel on its configuration.
func (t *Target) startSentinel(ctx context.Context, node string) error {
	b, err := t.findBins(ctx, node)
	if err != nil {
		return err
	}
	bin, args := b.sentinel, []string{t.sentinelConf(node)}
	if bin == "" {
		bin, args = b.server, append(args, "--sentinel")
	}
	cmd, err := t.command(ctx, node, bin, args...)
	if err != nil {
		return err
	}
	cmd.LogPath = t.sentinelLog(node)
	cmd.Dir = t.confDir(node)
	p, err := t.cluster.Start(ctx, node, cmd)
	if err != nil {
		return fmt.Errorf("redis start of the sentinel on %s: %w", node, err)
	}
	t.remember(node, sentinelProc, p)
	return nil
}

// stopProc asks node's process of kind k to exit (SIGTERM, then SIGCONT in
// case it is paused) and waits; after timeout it kills it.
func (t *Target) stopProc(ctx context.Context, node string, k procKind, timeout time.Duration) error {
	p := t.running(ctx, node, k)
	if p == nil {
		return nil
	}
	if err := targets.SignalLive(p, syscall.SIGTERM); err != nil {
		return fmt.Errorf("redis stop of the %s on %s: %w", k, node, err)
	}
	_ = targets.SignalLive(p, syscall.SIGCONT)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := p.Wait(wctx); err == nil {
		t.forget(node, k, p)
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("redis stop of the %s on %s: %w", k, node, ctx.Err())
	}
	if err := targets.Kill(ctx, p); err != nil {
		return fmt.Errorf("redis stop of the %s on %s: killing it after %v: %w", k, node, timeout, err)
	}
	t.forget(node, k, p)
	return nil
}
