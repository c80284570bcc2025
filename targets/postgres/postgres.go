package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/options"
	"github.com/faultline-dev/faultline/targets"
)

// Isolation levels for Options.Isolation.
const (
	Serializable   = "serializable"
	RepeatableRead = "repeatable-read"
	ReadCommitted  = "read-committed"
)

// PasswordEnv is the environment variable Options.Password defaults to.
const PasswordEnv = "FAULTLINE_POSTGRES_PASSWORD"

// ConsistencyModel is the consistency model PostgreSQL claims at an
// isolation level, by the checker's names: its repeatable read is snapshot
// isolation (stronger than ANSI's repeatable read in some ways, and it
// allows write skew, which Adya's PL-2.99 forbids).
func ConsistencyModel(isolation string) (string, error) {
	switch isolation {
	case "", Serializable:
		return "serializable", nil
	case RepeatableRead:
		return "snapshot-isolation", nil
	case ReadCommitted:
		return "read-committed", nil
	}
	return "", fmt.Errorf("postgres: isolation %q: want %s, %s or %s", isolation, Serializable, RepeatableRead, ReadCommitted)
}

// Options configure the PostgreSQL target. Zero values mean the defaults.
type Options struct {
	// Dir holds the server node's data, configuration and log:
	// <Dir>/<node>/data, <Dir>/<node>/pg_hba.conf, <Dir>/<node>/postgres.log.
	// Required.
	Dir string
	// BinDir holds initdb and postgres. Default: the newest
	// /usr/lib/postgresql/<version>/bin (Debian's layout).
	BinDir string
	// User is the OS user that runs initdb and the server (default
	// postgres); it must be able to reach Dir.
	User string
	// OnConflict makes appends and writes INSERT … ON CONFLICT DO UPDATE
	// instead of UPDATE-then-INSERT (see the statements in client.go for
	// why that is not the default).
	OnConflict bool
	// Isolation is every transaction's level: Serializable (default),
	// RepeatableRead or ReadCommitted.
	Isolation string
	// Port is the server's port on its node's address (default 5432).
	Port int
	// Password, when set, is the database superuser's password, required
	// from every client (scram-sha-256). Default $FAULTLINE_POSTGRES_PASSWORD;
	// when both are empty, clients from TrustNet need none.
	Password string
	// TrustNet is the network whose clients need no password. Default:
	// the cluster's subnet when the cluster tells it (control/local), else
	// each node's /24.
	TrustNet netip.Prefix
	// MaxConnections is the server's max_connections (default 100: room
	// for 50 workers, their reconnections and the target's own probes).
	MaxConnections int
	// RequestTimeout bounds each client transaction, connecting included
	// (default 5 s).
	RequestTimeout time.Duration
	// StopTimeout is how long Stop waits for a fast shutdown before it
	// kills the server (default 30 s).
	StopTimeout time.Duration
	// Env is added to initdb's and the server's environment.
	Env []string

	_ struct{}
}

func (o *Options) fill() error {
	if o.Dir == "" {
		return errors.New("postgres target: no Dir for the server's data and log")
	}
	if o.User == "" {
		o.User = "postgres"
	}
	if o.Isolation == "" {
		o.Isolation = Serializable
	}
	if _, err := ConsistencyModel(o.Isolation); err != nil {
		return err
	}
	if o.Port == 0 {
		o.Port = 5432
	}
	if o.Password == "" {
		o.Password = os.Getenv(PasswordEnv)
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 100
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 30 * time.Second
	}
	return nil
}

// OptionSpecs are the target's options (--target-opt KEY=VALUE).
func OptionSpecs() []options.Spec {
	return []options.Spec{
		{Name: "isolation", Doc: "every transaction's isolation level; the check holds the run to the model it promises", Default: Serializable, Values: []string{Serializable, RepeatableRead, ReadCommitted}},
		{Name: "upsert", Doc: "how a key with no row yet is written: update-insert (UPDATE, then INSERT if no row) or on-conflict (INSERT … ON CONFLICT DO UPDATE)", Default: "update-insert", Values: []string{"update-insert", "on-conflict"}},
		{Name: "port", Doc: "the server's port", Default: "5432", Check: options.CheckInt(1, 65535)},
		{Name: "bin-dir", Doc: "the directory of initdb and postgres on the server's node (default: the newest /usr/lib/postgresql/*/bin)"},
		{Name: "user", Doc: "the OS user that runs initdb and the server", Default: "postgres"},
		{Name: "max-connections", Doc: "the server's max_connections", Default: "100", Check: options.CheckInt(5, 10000)},
	}
}

// FromOptions makes Options from the target's resolved options.
func FromOptions(v options.Values, dir string, requestTimeout time.Duration) Options {
	return Options{
		Dir: dir, Isolation: v.Get("isolation"), OnConflict: v.Get("upsert") == "on-conflict",
		Port: v.Int("port"), BinDir: v.Get("bin-dir"), User: v.Get("user"),
		MaxConnections: v.Int("max-connections"), RequestTimeout: requestTimeout,
	}
}

// findBinDir is the newest /usr/lib/postgresql/<version>/bin on the
// server's node that has initdb and postgres (Debian's layout).
func (t *Target) findBinDir(ctx context.Context) (string, error) {
	const script = `for d in /usr/lib/postgresql/*/bin; do [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && echo "$d"; done; true`
	out, err := t.cluster.Exec(ctx, t.server.Name, control.Cmd{Path: "/bin/sh", Args: []string{"-c", script}})
	if err != nil {
		return "", fmt.Errorf("postgres target: looking for the server on %s: %w", t.server.Name, err)
	}
	best, bestV := "", -1
	for _, dir := range strings.Fields(string(out)) {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		if err == nil && v > bestV {
			best, bestV = dir, v
		}
	}
	if best == "" {
		return "", fmt.Errorf("postgres target: no PostgreSQL server under /usr/lib/postgresql/*/bin on %s: install it there (apt-get install postgresql) or give the bin-dir option", t.server.Name)
	}
	return best, nil
}

// binDir is the server's bin directory, found on first use.
func (t *Target) binDir(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.opts.BinDir != "" {
		return t.opts.BinDir, nil
	}
	dir, err := t.findBinDir(ctx)
	if err != nil {
		return "", err
	}
	t.opts.BinDir = dir
	return dir, nil
}

// Target runs a PostgreSQL server on the first node of a control.Cluster.
type Target struct {
	cluster control.Cluster
	opts    Options
	nodes   []control.Node
	server  control.Node

	mu   sync.Mutex
	proc control.Process // the running postmaster, or nil
}

var _ targets.DB = (*Target)(nil)

// New returns the PostgreSQL target on cluster. It starts nothing.
func New(cluster control.Cluster, opts Options) (*Target, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	t := &Target{cluster: cluster, opts: opts, nodes: cluster.Nodes()}
	if len(t.nodes) == 0 {
		return nil, errors.New("postgres target: the cluster has no nodes")
	}
	t.server = t.nodes[0]
	if !t.opts.TrustNet.IsValid() {
		if s, ok := cluster.(interface{ Subnet() netip.Prefix }); ok {
			t.opts.TrustNet = s.Subnet()
		}
	}
	return t, nil
}

// Server is the node the server runs on: the cluster's first.
func (t *Target) Server() string { return t.server.Name }

// Servers implements targets.Servers: the one node that runs a server.
func (t *Target) Servers() []string { return []string{t.server.Name} }

// Isolation is the transactions' isolation level.
func (t *Target) Isolation() string { return t.opts.Isolation }

// ConsistencyModel is the consistency model the target claims, for the
// transactional workloads' checker: serializable, snapshot-isolation or
// read-committed by the isolation level.
func (t *Target) ConsistencyModel() string {
	m, _ := ConsistencyModel(t.opts.Isolation)
	return m
}

// ClaimedBy names the isolation level that makes the claim, e.g.
// "PostgreSQL's repeatable read".
func (t *Target) ClaimedBy() string {
	return "PostgreSQL's " + strings.ReplaceAll(t.opts.Isolation, "-", " ")
}

// Addr is the server's address and port.
func (t *Target) Addr() netip.AddrPort {
	return netip.AddrPortFrom(t.server.Addr, uint16(t.opts.Port))
}

// Endpoint is the server's connection URL, from node's point of view
// (every node's clients connect to the one server).
func (t *Target) Endpoint(node string) (string, error) {
	if _, err := t.isServer(node); err != nil {
		return "", err
	}
	return "postgres://postgres@" + t.Addr().String() + "/postgres", nil
}

// isServer says whether node is the server's node; other nodes of the
// cluster are only names for the workers' clients.
func (t *Target) isServer(node string) (bool, error) {
	for _, n := range t.nodes {
		if n.Name == node {
			return node == t.server.Name, nil
		}
	}
	return false, fmt.Errorf("postgres: node %q: %w", node, control.ErrNoNode)
}

func (t *Target) nodeDir(node string) string { return filepath.Join(t.opts.Dir, node) }
func (t *Target) dataDir(node string) string { return filepath.Join(t.nodeDir(node), "data") }
func (t *Target) logPath(node string) string { return filepath.Join(t.nodeDir(node), "postgres.log") }
func (t *Target) hbaPath(node string) string { return filepath.Join(t.nodeDir(node), "pg_hba.conf") }

// Setup gives the server an empty data directory (initdb) and starts it.
// Call WaitHealthy before using it: it also makes the workloads' tables.
func (t *Target) Setup(ctx context.Context) error {
	node := t.server.Name
	if p := t.running(ctx); p != nil {
		return fmt.Errorf("postgres setup on %s: a server is running (pid %d); tear it down first", node, p.Pid())
	}
	if _, err := t.binDir(ctx); err != nil {
		return err
	}
	// The data only: the node's directory is shared with the agent.
	if err := t.cluster.RemoveAll(ctx, node, t.dataDir(node)); err != nil {
		return fmt.Errorf("postgres setup on %s: %w", node, err)
	}
	// The postgres user must get through it (MkdirAll sets the mode
	// whatever the umask).
	if err := t.cluster.MkdirAll(ctx, node, t.nodeDir(node), 0o755); err != nil {
		return fmt.Errorf("postgres setup on %s: %w", node, err)
	}
	if err := t.initdb(ctx); err != nil {
		return err
	}
	return t.Start(ctx, node)
}

// teardownStopTimeout bounds Teardown's fast shutdown before it kills.
const teardownStopTimeout = 5 * time.Second

// Teardown stops the server: a fast shutdown, so that its log ends cleanly
// and the postmaster reaps its own children, or a kill if that takes more
// than a few seconds. Data and log stay in Dir.
func (t *Target) Teardown(ctx context.Context) error {
	return t.stop(ctx, t.server.Name, teardownStopTimeout)
}

// running returns the postmaster, or nil if none runs. A server started
// by another faultline process (cluster up) is found by its postmaster.pid
// when the cluster can adopt processes.
func (t *Target) running(ctx context.Context) control.Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.proc; p != nil {
		select {
		case <-p.Done():
			t.proc = nil
		default:
			return p
		}
	}
	b, err := t.cluster.ReadFile(ctx, t.server.Name, filepath.Join(t.dataDir(t.server.Name), "postmaster.pid"))
	if err != nil {
		return nil
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return nil
	}
	p, err := t.cluster.Adopt(ctx, t.server.Name, pid)
	if err != nil {
		return nil
	}
	t.proc = p
	return p
}

// Start starts the server on the data it has; on a node whose data was
// wiped it runs initdb first, so the server comes back empty (and
// WaitHealthy makes the tables again). Starting a running server is an
// error.
func (t *Target) Start(ctx context.Context, node string) error {
	if srv, err := t.isServer(node); err != nil || !srv {
		return err
	}
	if p := t.running(ctx); p != nil {
		return fmt.Errorf("postgres start on %s: already running (pid %d)", node, p.Pid())
	}
	bin, err := t.binDir(ctx)
	if err != nil {
		return err
	}
	if ok, err := t.cluster.Exists(ctx, node, filepath.Join(t.dataDir(node), "PG_VERSION")); err != nil {
		return fmt.Errorf("postgres start on %s: %w", node, err)
	} else if !ok {
		if err := t.initdb(ctx); err != nil {
			return err
		}
	}
	if err := t.writeHBA(ctx); err != nil {
		return fmt.Errorf("postgres start on %s: %w", node, err)
	}
	p, err := t.cluster.Start(ctx, node, control.Cmd{
		Path:    "setpriv",
		Args:    t.asUser(filepath.Join(bin, "postgres"), t.serverArgs()...),
		Env:     t.opts.Env,
		LogPath: t.logPath(node),
	})
	if err != nil {
		return fmt.Errorf("postgres start on %s: %w", node, err)
	}
	t.mu.Lock()
	t.proc = p
	t.mu.Unlock()
	return nil
}

// asUser is setpriv's arguments to run bin as the target's user. setpriv
// execs (runuser and su fork and wait), so the process the cluster starts
// and signals is bin itself.
func (t *Target) asUser(bin string, args ...string) []string {
	u := t.opts.User
	return append([]string{"--reuid=" + u, "--regid=" + u, "--init-groups", "--", bin}, args...)
}

// serverArgs are the postmaster's flags: the whole configuration beside
// initdb's postgresql.conf (see the package doc).
func (t *Target) serverArgs() []string {
	isolation := map[string]string{Serializable: "serializable", RepeatableRead: "repeatable read", ReadCommitted: "read committed"}[t.opts.Isolation]
	settings := []string{
		"listen_addresses=" + t.server.Addr.String(),
		"port=" + strconv.Itoa(t.opts.Port),
		"unix_socket_directories=",
		"hba_file=" + t.hbaPath(t.server.Name),
		"max_connections=" + strconv.Itoa(t.opts.MaxConnections),
		"fsync=on",
		"synchronous_commit=on",
		"full_page_writes=on",
		"default_transaction_isolation=" + isolation,
		// Transactions that upsert hot keys in random orders deadlock
		// often under read committed; at the default 1 s (or even 100 ms)
		// every deadlock stalls the workers queued behind it, and read
		// committed ran at a quarter of its throughput.
		"deadlock_timeout=10ms",
		"logging_collector=off",
		"log_line_prefix=%m [%p] %q%u@%d ",
		// LOG ranks above ERROR here: the server's own events (start,
		// recovery, checkpoints, shutdown) without a line per client error
		// (serialization failures are most transactions' fate, and the
		// history has them).
		"log_min_messages=log",
		"log_min_error_statement=panic",
	}
	args := []string{"-D", t.dataDir(t.server.Name)}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	return args
}

// Stop asks the server for a fast shutdown (SIGINT, see the package doc;
// and SIGCONT to it and its children in case they are paused) and waits;
// after StopTimeout it kills it. Stopping a server that is not running is
// not an error.
func (t *Target) Stop(ctx context.Context, node string) error {
	return t.stop(ctx, node, t.opts.StopTimeout)
}

func (t *Target) stop(ctx context.Context, node string, timeout time.Duration) error {
	if srv, err := t.isServer(node); err != nil || !srv {
		return err
	}
	p := t.running(ctx)
	if p == nil {
		return nil
	}
	kids, _ := t.children(ctx, p.Pid())
	if err := targets.SignalLive(p, syscall.SIGINT); err != nil {
		return fmt.Errorf("postgres stop on %s: %w", node, err)
	}
	_ = t.signalPids(ctx, "CONT", pidsOf(kids))
	_ = targets.SignalLive(p, syscall.SIGCONT)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := p.Wait(wctx); err == nil {
		t.forget(p)
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("postgres stop on %s: %w", node, ctx.Err())
	}
	return t.Kill(ctx, node)
}

// Kill crashes the server: SIGKILL to the postmaster and every child, and
// waits until they are gone. Killing a server that is not running is not
// an error.
func (t *Target) Kill(ctx context.Context, node string) error {
	if srv, err := t.isServer(node); err != nil || !srv {
		return err
	}
	p := t.running(ctx)
	if p == nil {
		return nil
	}
	// Stopped, the postmaster forks no child between the listing and the
	// kill.
	_ = targets.SignalLive(p, syscall.SIGSTOP)
	kids, err := t.children(ctx, p.Pid())
	if err != nil {
		// Kill what can be killed; the error is reported below.
		err = fmt.Errorf("postgres kill on %s: %w", node, err)
	}
	_ = t.signalPids(ctx, "KILL", pidsOf(kids))
	if serr := targets.SignalLive(p, syscall.SIGKILL); serr != nil {
		return errors.Join(err, fmt.Errorf("postgres kill on %s: %w", node, serr))
	}
	if werr := targets.WaitGone(ctx, p); werr != nil {
		return errors.Join(err, fmt.Errorf("postgres kill on %s: %w", node, werr))
	}
	t.forget(p)
	if gerr := t.waitGone(context.WithoutCancel(ctx), pidsOf(kids)); gerr != nil {
		return errors.Join(err, fmt.Errorf("postgres kill on %s: %w", node, gerr))
	}
	return err
}

func (t *Target) forget(p control.Process) {
	t.mu.Lock()
	if t.proc == p {
		t.proc = nil
	}
	t.mu.Unlock()
}

// Processes implements targets.DB: the postmaster (the root of the
// server's process tree) on the server's node, none elsewhere.
func (t *Target) Processes(ctx context.Context, node string) ([]int, error) {
	if srv, err := t.isServer(node); err != nil || !srv {
		return nil, err
	}
	if p := t.running(ctx); p != nil {
		return []int{p.Pid()}, nil
	}
	return nil, nil
}

// CollectLogs implements targets.LogCollector: the server's log and
// initdb's.
func (t *Target) CollectLogs(ctx context.Context, node, dir string) error {
	if node != t.server.Name {
		return nil
	}
	var errs []error
	for _, f := range []string{t.logPath(node), filepath.Join(t.nodeDir(node), "initdb.log")} {
		if err := t.cluster.Download(ctx, node, f, filepath.Join(dir, filepath.Base(f))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Restart stops the server if it runs (fast shutdown) and starts it again
// on its data.
func (t *Target) Restart(ctx context.Context, node string) error {
	if err := t.Stop(ctx, node); err != nil {
		return err
	}
	return t.Start(ctx, node)
}

// Wipe removes the server's data directory (the data-loss fault). The
// server must not be running; started again, it comes back empty.
func (t *Target) Wipe(ctx context.Context, node string) error {
	if srv, err := t.isServer(node); err != nil || !srv {
		return err
	}
	if p := t.running(ctx); p != nil {
		return fmt.Errorf("postgres wipe on %s: the server is running (pid %d); kill it first", node, p.Pid())
	}
	if err := t.cluster.RemoveAll(ctx, node, t.dataDir(node)); err != nil {
		return fmt.Errorf("postgres wipe on %s: %w", node, err)
	}
	return nil
}

// LogFiles lists node's log files: the server's log on the server's node,
// none elsewhere.
func (t *Target) LogFiles(node string) []string {
	if node != t.server.Name {
		return nil
	}
	return []string{t.logPath(node)}
}

// Client returns a new client whose home is node (any node of the
// cluster); it connects to the server, lazily, on its first transaction.
// The caller closes it.
func (t *Target) Client(node string) (*Client, error) {
	if _, err := t.isServer(node); err != nil {
		return nil, err
	}
	return newClient(node, t.connConfig(t.opts.RequestTimeout), t.opts.RequestTimeout, t.opts.Isolation, t.opts.OnConflict)
}

// trustNets are the networks whose clients need no password.
func (t *Target) trustNets() []netip.Prefix {
	if t.opts.TrustNet.IsValid() {
		return []netip.Prefix{t.opts.TrustNet.Masked()}
	}
	var out []netip.Prefix
	for _, n := range t.nodes {
		p := netip.PrefixFrom(n.Addr, 24).Masked()
		if n.Addr.Is6() {
			p = netip.PrefixFrom(n.Addr, 64).Masked()
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
