package redis

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/options"
	"github.com/faultline-dev/faultline/targets"
)

// Persistence settings for Options.Persistence.
const (
	// RDB is Redis's default: snapshots by its default save points
	// (save 3600 1 300 100 60 10000), no append-only file.
	RDB = "rdb"
	// AOFEverysec is appendonly yes, appendfsync everysec.
	AOFEverysec = "aof-everysec"
	// AOFAlways is appendonly yes, appendfsync always.
	AOFAlways = "aof-always"
)

// MasterName is the name the sentinels monitor the primary under.
const MasterName = "faultline"

// Options configure the Redis target. Zero values mean the defaults.
type Options struct {
	// Dir holds each node's files: <Dir>/<node>/data (the server's working
	// directory: dump.rdb, appendonlydir), <Dir>/<node>/conf (redis.conf,
	// sentinel.conf and pid files, which the servers rewrite) and the logs
	// <Dir>/<node>/redis.log and sentinel.log. Required.
	Dir string
	// Persistence is RDB (default), AOFEverysec or AOFAlways.
	Persistence string
	// Wait, when positive, makes every write wait for that many replicas
	// to acknowledge it (WAIT Wait WaitTimeout); a write acknowledged by
	// fewer is an error wrapping ErrNotReplicated (outcome unknown). It
	// needs at least Wait+1 nodes.
	Wait int
	// WaitTimeout is WAIT's timeout (default 1 s, at most half the
	// request timeout).
	WaitTimeout time.Duration
	// Sentinel runs redis-sentinel on every node when there is more than
	// one, and the clients follow the primary it names. Without it the
	// first node is the primary for good and the others replicate it.
	// FromOptions sets it by the sentinel option (default on).
	Sentinel bool
	// Port is the server's port (default 6379); SentinelPort the
	// sentinel's (default 26379).
	Port, SentinelPort int
	// DownAfter is the sentinels' down-after-milliseconds (default 2 s)
	// and FailoverTimeout their failover-timeout (default 4 s): short, so
	// that a failover is done within a few seconds.
	DownAfter, FailoverTimeout time.Duration
	// LockTTL is the expiry of a lock (SET … PX), default 10 s.
	LockTTL time.Duration
	// User is the OS user that runs the servers (default redis); when the
	// node has no such user they run as root.
	User string
	// RequestTimeout bounds each client request, connecting included
	// (default 5 s).
	RequestTimeout time.Duration
	// StopTimeout is how long Stop waits for a server to exit after
	// SIGTERM before it kills it (default 30 s).
	StopTimeout time.Duration

	_ struct{}
}

func (o *Options) fill() error {
	if o.Dir == "" {
		return errors.New("redis target: no Dir for the nodes' data, configuration and logs")
	}
	switch o.Persistence {
	case "":
		o.Persistence = RDB
	case RDB, AOFEverysec, AOFAlways:
	default:
		return fmt.Errorf("redis target: persistence %q: want %s, %s or %s", o.Persistence, RDB, AOFEverysec, AOFAlways)
	}
	if o.Wait < 0 {
		return fmt.Errorf("redis target: wait %d: want 0 (off) or a number of replicas", o.Wait)
	}
	if o.Port == 0 {
		o.Port = 6379
	}
	if o.SentinelPort == 0 {
		o.SentinelPort = 26379
	}
	if o.Port == o.SentinelPort {
		return fmt.Errorf("redis target: the server and the sentinel cannot share port %d", o.Port)
	}
	if o.DownAfter <= 0 {
		o.DownAfter = 2 * time.Second
	}
	if o.FailoverTimeout <= 0 {
		o.FailoverTimeout = 4 * time.Second
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 10 * time.Second
	}
	if o.User == "" {
		o.User = "redis"
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = time.Second
	}
	o.WaitTimeout = min(o.WaitTimeout, o.RequestTimeout/2)
	if o.StopTimeout <= 0 {
		o.StopTimeout = 30 * time.Second
	}
	return nil
}

// OptionSpecs are the target's options (--target-opt KEY=VALUE).
func OptionSpecs() []options.Spec {
	return []options.Spec{
		{Name: "persistence", Doc: "rdb: Redis's default snapshots (save 3600 1 300 100 60 10000); aof-everysec, aof-always: appendonly yes with that appendfsync", Default: RDB, Values: []string{RDB, AOFEverysec, AOFAlways}},
		{Name: "wait", Doc: "after each write, WAIT for this many replicas (with a 1 s timeout); a write fewer acknowledged is recorded as info, not ok (0: no WAIT)", Default: "0", Check: options.CheckInt(0, 100)},
		{Name: "sentinel", Doc: "with more than one node, redis-sentinel on every node (quorum a majority) fails the primary over and clients follow it; off: the first node stays the primary", Default: "on", Values: []string{"on", "off"}},
		{Name: "port", Doc: "the server's port", Default: "6379", Check: options.CheckInt(1, 65535)},
		{Name: "sentinel-port", Doc: "the sentinel's port", Default: "26379", Check: options.CheckInt(1, 65535)},
		{Name: "lock-ttl", Doc: "the lock workload's lock expiry (SET name owner NX PX ttl)", Default: "10s", Check: checkPositiveDuration},
	}
}

func checkPositiveDuration(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("want a positive duration with a unit, e.g. 10s")
	}
	return nil
}

// FromOptions makes Options from the target's resolved options.
func FromOptions(v options.Values, dir string, requestTimeout time.Duration) Options {
	return Options{
		Dir: dir, Persistence: v.Get("persistence"), Wait: v.Int("wait"),
		Sentinel: v.Get("sentinel") != "off", Port: v.Int("port"), SentinelPort: v.Int("sentinel-port"),
		LockTTL: v.Duration("lock-ttl"), RequestTimeout: requestTimeout,
	}
}

// Target runs Redis on every node of a control.Cluster: one server, or a
// primary and replicas, with a sentinel on every node when
// Options.Sentinel is set and there is more than one node.
type Target struct {
	cluster control.Cluster
	opts    Options
	nodes   []control.Node
	// sentinel: the sentinels run (Options.Sentinel and more than one
	// node).
	sentinel bool

	mu    sync.Mutex
	procs map[string]*nodeProcs
	users map[string]string // the user each node's servers run as
	bins  map[string]bins
}

var (
	_ targets.DB        = (*Target)(nil)
	_ targets.Primaries = (*Target)(nil)
)

// New returns the Redis target on cluster. It starts nothing.
func New(cluster control.Cluster, opts Options) (*Target, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	t := &Target{cluster: cluster, opts: opts, nodes: cluster.Nodes(), procs: map[string]*nodeProcs{}, users: map[string]string{}, bins: map[string]bins{}}
	if len(t.nodes) == 0 {
		return nil, errors.New("redis target: the cluster has no nodes")
	}
	t.sentinel = opts.Sentinel && len(t.nodes) > 1
	for _, n := range t.nodes {
		t.procs[n.Name] = &nodeProcs{}
	}
	return t, nil
}

// Sentinel reports whether the target runs sentinels.
func (t *Target) Sentinel() bool { return t.sentinel }

// Persistence is the servers' persistence setting.
func (t *Target) Persistence() string { return t.opts.Persistence }

func (t *Target) node(name string) (control.Node, error) {
	for _, n := range t.nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return control.Node{}, fmt.Errorf("redis: node %q: %w", name, control.ErrNoNode)
}

// first is the node that is the primary at Setup (and for good without
// sentinels).
func (t *Target) first() control.Node { return t.nodes[0] }

func (t *Target) nodeDir(node string) string { return filepath.Join(t.opts.Dir, node) }
func (t *Target) dataDir(node string) string { return filepath.Join(t.nodeDir(node), "data") }
func (t *Target) confDir(node string) string { return filepath.Join(t.nodeDir(node), "conf") }

func (t *Target) serverConf(node string) string {
	return filepath.Join(t.confDir(node), "redis.conf")
}

func (t *Target) sentinelConf(node string) string {
	return filepath.Join(t.confDir(node), "sentinel.conf")
}

func (t *Target) serverLog(node string) string {
	return filepath.Join(t.nodeDir(node), "redis.log")
}

func (t *Target) sentinelLog(node string) string {
	return filepath.Join(t.nodeDir(node), "sentinel.log")
}

func (t *Target) addr(n control.Node) string {
	return hostPort(n, t.opts.Port)
}

func (t *Target) sentinelAddr(n control.Node) string {
	return hostPort(n, t.opts.SentinelPort)
}

func hostPort(n control.Node, port int) string {
	return n.Addr.String() + ":" + strconv.Itoa(port)
}

// Setup gives every node fresh data and configuration and starts its
// server, then (with sentinels) every node's sentinel. The first node is
// the primary; the others replicate it.
func (t *Target) Setup(ctx context.Context) error {
	// Checked here, not in New, so that a cluster made with it can still
	// be reached and torn down.
	if t.opts.Wait > len(t.nodes)-1 {
		return fmt.Errorf("redis target: wait=%d waits for that many replicas, and %d nodes have %d: use --nodes %d or more, or a smaller wait", t.opts.Wait, len(t.nodes), len(t.nodes)-1, t.opts.Wait+1)
	}
	for _, n := range t.nodes {
		if ps, _ := t.Processes(ctx, n.Name); len(ps) > 0 {
			return fmt.Errorf("redis setup on %s: Redis is running (pids %v); tear it down first", n.Name, ps)
		}
	}
	err := forNodes(t.nodes, func(n control.Node) error {
		if _, err := t.findBins(ctx, n.Name); err != nil {
			return err
		}
		// The data and configuration only: the node's directory is
		// shared with the agent.
		for _, d := range []string{t.dataDir(n.Name), t.confDir(n.Name)} {
			if err := t.cluster.RemoveAll(ctx, n.Name, d); err != nil {
				return fmt.Errorf("redis setup on %s: %w", n.Name, err)
			}
		}
		// The redis user must get through it (MkdirAll sets the mode
		// whatever the umask).
		if err := t.cluster.MkdirAll(ctx, n.Name, t.nodeDir(n.Name), 0o755); err != nil {
			return fmt.Errorf("redis setup on %s: %w", n.Name, err)
		}
		if err := t.makeDirs(ctx, n.Name); err != nil {
			return err
		}
		return t.writeConfigs(ctx, n.Name)
	})
	if err != nil {
		return err
	}
	if err := forNodes(t.nodes, func(n control.Node) error { return t.startServer(ctx, n.Name) }); err != nil {
		return err
	}
	if t.sentinel {
		// The sentinels learn of the replicas from the primary's INFO, at
		// once and then every 10 s: start them once the replicas are
		// linked, so that they know every replica from the start.
		if err := t.replicating(ctx); err != nil {
			return fmt.Errorf("redis setup: %w", err)
		}
		return forNodes(t.nodes, func(n control.Node) error { return t.startSentinel(ctx, n.Name) })
	}
	return nil
}

// forNodes runs f for every node at once and joins the errors.
func forNodes(nodes []control.Node, f func(control.Node) error) error {
	return forNodesIndexed(nodes, func(_ int, n control.Node) error { return f(n) })
}

// teardownStopTimeout bounds Teardown's shutdown of each server before it
// kills it.
const teardownStopTimeout = 5 * time.Second

// Teardown stops every sentinel, then every server (SIGTERM, a kill after
// a few seconds), so that no failover starts while the cluster goes away.
// Data and logs stay in Dir.
func (t *Target) Teardown(ctx context.Context) error {
	var errs []error
	if t.sentinel {
		errs = append(errs, forNodes(t.nodes, func(n control.Node) error {
			return t.stopProc(ctx, n.Name, sentinelProc, teardownStopTimeout)
		}))
	}
	errs = append(errs, forNodes(t.nodes, func(n control.Node) error {
		return t.stopProc(ctx, n.Name, serverProc, teardownStopTimeout)
	}))
	return errors.Join(errs...)
}

// Start starts node's server (and sentinel) on the data and configuration
// it has: a node whose configuration is gone gets it written afresh, and
// one whose data was wiped comes back empty. Starting a node whose
// processes all run is an error.
func (t *Target) Start(ctx context.Context, node string) error {
	if _, err := t.node(node); err != nil {
		return err
	}
	srv := t.running(ctx, node, serverProc)
	var snt control.Process
	if t.sentinel {
		snt = t.running(ctx, node, sentinelProc)
	}
	if srv != nil && (!t.sentinel || snt != nil) {
		return fmt.Errorf("redis start on %s: already running (pid %d)", node, srv.Pid())
	}
	if _, err := t.findBins(ctx, node); err != nil {
		return err
	}
	if err := t.makeDirs(ctx, node); err != nil {
		return err
	}
	if err := t.writeMissingConfigs(ctx, node); err != nil {
		return err
	}
	if srv == nil {
		if err := t.startServer(ctx, node); err != nil {
			return err
		}
	}
	if t.sentinel && snt == nil {
		return t.startSentinel(ctx, node)
	}
	return nil
}

// Stop asks node's sentinel and server to exit (SIGTERM, and SIGCONT in
// case they are paused) and waits; Redis saves its snapshot (or flushes
// its append-only file) on the way out. After StopTimeout it kills them.
// Stopping a node that is not running is not an error.
func (t *Target) Stop(ctx context.Context, node string) error {
	if _, err := t.node(node); err != nil {
		return err
	}
	var errs []error
	if t.sentinel {
		errs = append(errs, t.stopProc(ctx, node, sentinelProc, t.opts.StopTimeout))
	}
	errs = append(errs, t.stopProc(ctx, node, serverProc, t.opts.StopTimeout))
	return errors.Join(errs...)
}

// Kill crashes node: SIGKILL to its server (with its process group: a
// snapshot's forked child dies too) and its sentinel, and waits until they
// have gone. Nothing is saved. Killing a node that is not running is not
// an error.
func (t *Target) Kill(ctx context.Context, node string) error {
	if _, err := t.node(node); err != nil {
		return err
	}
	var errs []error
	for _, k := range t.kinds() {
		if p := t.running(ctx, node, k); p != nil {
			if err := targets.Kill(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("redis kill of the %s on %s: %w", k, node, err))
				continue
			}
			t.forget(node, k, p)
		}
	}
	return errors.Join(errs...)
}

// Restart stops node if it runs and starts it again on its data.
func (t *Target) Restart(ctx context.Context, node string) error {
	if err := t.Stop(ctx, node); err != nil {
		return err
	}
	return t.Start(ctx, node)
}

// Wipe removes node's data (the data-loss fault): started again, its
// server comes back empty (a replica then resyncs from its primary, and a
// primary hands its emptiness to its replicas). Its configuration stays.
// The node must not be running.
func (t *Target) Wipe(ctx context.Context, node string) error {
	if _, err := t.node(node); err != nil {
		return err
	}
	if p := t.running(ctx, node, serverProc); p != nil {
		return fmt.Errorf("redis wipe on %s: the server is running (pid %d); kill it first", node, p.Pid())
	}
	if err := t.cluster.RemoveAll(ctx, node, t.dataDir(node)); err != nil {
		return fmt.Errorf("redis wipe on %s: %w", node, err)
	}
	return nil
}

// Processes implements targets.DB: node's redis-server and, with
// sentinels, its redis-sentinel (what a pause stops: the whole node).
func (t *Target) Processes(ctx context.Context, node string) ([]int, error) {
	if _, err := t.node(node); err != nil {
		return nil, err
	}
	var pids []int
	for _, k := range t.kinds() {
		if p := t.running(ctx, node, k); p != nil {
			pids = append(pids, p.Pid())
		}
	}
	return pids, nil
}

// LogFiles lists node's log files: the server's and the sentinel's.
func (t *Target) LogFiles(node string) []string {
	if _, err := t.node(node); err != nil {
		return nil
	}
	logs := []string{t.serverLog(node)}
	if t.sentinel {
		logs = append(logs, t.sentinelLog(node))
	}
	return logs
}

// kinds are the processes that run on every node.
func (t *Target) kinds() []procKind {
	if t.sentinel {
		return []procKind{serverProc, sentinelProc}
	}
	return []procKind{serverProc}
}
