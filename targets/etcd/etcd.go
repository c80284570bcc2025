package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	"github.com/faultline-dev/faultline/targets/service"
)

// Read consistencies for Options.ReadConsistency.
const (
	Linearizable = "linearizable"
	Serializable = "serializable"
)

// Options configure the etcd target. Zero values mean the defaults.
type Options struct {
	// Dir holds every node's data and log, on the node: <Dir>/<node>/data,
	// <Dir>/<node>/etcd.log. Required unless Existing.
	Dir string
	// Command runs a member: Command[0] is the executable and Command[1:]
	// come before the member's flags. Default: faultline's binary on the
	// node (control.Cluster.Binary) with MemberCommand.
	Command []string
	// Env is added to a member's environment.
	Env []string
	// ReadConsistency is what the client's Read uses: Linearizable
	// (default) or Serializable (served from the member's local state).
	ReadConsistency string
	// RequestTimeout bounds each client request (default 5 s).
	RequestTimeout time.Duration
	// LockTTL is the TTL of the lease behind the lock workload's locks
	// (default DefaultLockTTL): how long a lock outlives a holder that
	// stopped renewing it (crashed, partitioned, paused). etcd counts it
	// in whole seconds.
	LockTTL time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL
	// (default 10 s).
	StopTimeout time.Duration
	// ClientPort and PeerPort are the member's ports on its node's address
	// (defaults 2379 and 2380).
	ClientPort, PeerPort int
	// HeartbeatMs and ElectionMs are raft's timing (defaults 100 and
	// 1000, etcd's own: a 5-member cluster on 2 cores keeps a leader with
	// them).
	HeartbeatMs, ElectionMs uint
	// LogLevel is the members' log level (default info).
	LogLevel string
	// ClusterToken tells this cluster's members from another's (default
	// "faultline").
	ClusterToken string
	// Existing, if set, is an etcd cluster that runs on the nodes already,
	// managed outside faultline: faultline never installs, wipes, stops or
	// reconfigures it, and kills and restarts it through its manager.
	Existing *service.Service
	// Endpoints are the existing members' client URLs by node (default
	// http://<node address>:<ClientPort>).
	Endpoints map[string]string

	_ struct{}
}

func (o *Options) fill() error {
	if o.Dir == "" && o.Existing == nil {
		return errors.New("etcd target: no Dir for the nodes' data and logs")
	}
	switch o.ReadConsistency {
	case "":
		o.ReadConsistency = Linearizable
	case Linearizable, Serializable:
	default:
		return fmt.Errorf("etcd target: read consistency %q: want %q or %q", o.ReadConsistency, Linearizable, Serializable)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.LockTTL <= 0 {
		o.LockTTL = DefaultLockTTL
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = stopTimeout
	}
	if o.ClientPort == 0 {
		o.ClientPort = 2379
	}
	if o.PeerPort == 0 {
		o.PeerPort = 2380
	}
	if o.HeartbeatMs == 0 {
		o.HeartbeatMs = 100
	}
	if o.ElectionMs == 0 {
		o.ElectionMs = 1000
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.ClusterToken == "" {
		o.ClusterToken = "faultline"
	}
	return nil
}

// OptionSpecs are the target's options (--target-opt KEY=VALUE).
func OptionSpecs() []options.Spec {
	return append([]options.Spec{
		{Name: "read-consistency", Doc: "what reads use: linearizable (a quorum read) or serializable (the member's local state, stale under partitions)", Default: Linearizable, Values: []string{Linearizable, Serializable}},
		{Name: "lock-ttl", Doc: "the lock workload's lease TTL (whole seconds): how long a lock outlives a holder that stopped renewing it", Default: DefaultLockTTL.String(), Check: checkLockTTL},
		{Name: "client-port", Doc: "members' client port", Default: "2379", Check: options.CheckInt(1, 65535)},
		{Name: "peer-port", Doc: "members' peer port", Default: "2380", Check: options.CheckInt(1, 65535)},
		{Name: "heartbeat-ms", Doc: "raft heartbeat interval", Default: "100", Check: options.CheckInt(1, 60000)},
		{Name: "election-ms", Doc: "raft election timeout", Default: "1000", Check: options.CheckInt(1, 600000)},
		{Name: "log-level", Doc: "members' log level", Default: "info", Values: []string{"debug", "info", "warn", "error"}},
		{Name: "endpoints", Doc: "existing: members' client URLs as NODE=URL,… (default http://<node address>:<client-port>)"},
	}, service.Options()...)
}

// FromOptions makes Options from the target's resolved options.
func FromOptions(v options.Values, dir string, requestTimeout time.Duration) (Options, error) {
	o := Options{
		Dir: dir, ReadConsistency: v.Get("read-consistency"), RequestTimeout: requestTimeout, LockTTL: v.Duration("lock-ttl"),
		ClientPort: v.Int("client-port"), PeerPort: v.Int("peer-port"),
		HeartbeatMs: uint(v.Int("heartbeat-ms")), ElectionMs: uint(v.Int("election-ms")), LogLevel: v.Get("log-level"),
	}
	svc, err := service.FromOptions(v)
	if err != nil {
		return o, fmt.Errorf("etcd: %w", err)
	}
	o.Existing = svc
	if eps := v.Get("endpoints"); eps != "" {
		if svc == nil {
			return o, errors.New("etcd: option endpoints is for an existing cluster: add existing=true")
		}
		o.Endpoints = map[string]string{}
		for kv := range strings.SplitSeq(eps, ",") {
			n, u, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || n == "" || u == "" {
				return o, fmt.Errorf("etcd: endpoints: %q: want NODE=URL", kv)
			}
			o.Endpoints[n] = u
		}
	}
	return o, nil
}

// Target runs an etcd member on every node of a control.Cluster.
type Target struct {
	cluster control.Cluster
	opts    Options
	nodes   []control.Node

	mu     sync.Mutex
	procs  map[string]control.Process // running members by node
	admins map[string]*Client         // the target's own clients, by node
}

var (
	_ targets.DB        = (*Target)(nil)
	_ targets.Primaries = (*Target)(nil)
)

// New returns the etcd target on cluster. It starts nothing.
func New(cluster control.Cluster, opts Options) (*Target, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	t := &Target{cluster: cluster, opts: opts, nodes: cluster.Nodes(), procs: map[string]control.Process{}, admins: map[string]*Client{}}
	if len(t.nodes) == 0 {
		return nil, errors.New("etcd target: the cluster has no nodes")
	}
	for n := range opts.Endpoints {
		if _, err := t.node(n); err != nil {
			return nil, fmt.Errorf("etcd target: endpoints: %w", err)
		}
	}
	return t, nil
}

func (t *Target) node(name string) (control.Node, error) {
	for _, n := range t.nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return control.Node{}, fmt.Errorf("etcd: node %q: %w", name, control.ErrNoNode)
}

func (t *Target) nodeDir(node string) string { return filepath.Join(t.opts.Dir, node) }
func (t *Target) dataDir(node string) string { return filepath.Join(t.nodeDir(node), "data") }
func (t *Target) logPath(node string) string { return filepath.Join(t.nodeDir(node), "etcd.log") }
func (t *Target) pidPath(node string) string { return filepath.Join(t.nodeDir(node), "member.pid") }

func (t *Target) clientURL(n control.Node) string {
	if u, ok := t.opts.Endpoints[n.Name]; ok {
		return u
	}
	return "http://" + net.JoinHostPort(n.Addr.String(), strconv.Itoa(t.opts.ClientPort))
}

func (t *Target) peerURL(n control.Node) string {
	return "http://" + net.JoinHostPort(n.Addr.String(), strconv.Itoa(t.opts.PeerPort))
}

// Endpoint is node's client URL.
func (t *Target) Endpoint(node string) (string, error) {
	n, err := t.node(node)
	if err != nil {
		return "", err
	}
	return t.clientURL(n), nil
}

// Endpoints lists every node's client URL, in node order.
func (t *Target) Endpoints() []string {
	out := make([]string, len(t.nodes))
	for i, n := range t.nodes {
		out[i] = t.clientURL(n)
	}
	return out
}

// memberArgs are the member's flags on node.
func (t *Target) memberArgs(n control.Node, state string) []string {
	var initial []string
	for _, m := range t.nodes {
		initial = append(initial, m.Name+"="+t.peerURL(m))
	}
	return []string{
		"--name", n.Name,
		"--data-dir", t.dataDir(n.Name),
		"--listen-client-urls", t.clientURL(n),
		"--advertise-client-urls", t.clientURL(n),
		"--listen-peer-urls", t.peerURL(n),
		"--initial-advertise-peer-urls", t.peerURL(n),
		"--initial-cluster", strings.Join(initial, ","),
		"--initial-cluster-state", state,
		"--initial-cluster-token", t.opts.ClusterToken,
		"--heartbeat-interval", strconv.FormatUint(uint64(t.opts.HeartbeatMs), 10),
		"--election-timeout", strconv.FormatUint(uint64(t.opts.ElectionMs), 10),
		"--log-level", t.opts.LogLevel,
	}
}

// clusterState is "new" for a member of a cluster being bootstrapped (and
// ignored by a member restarting on its data), and "existing" for a member
// whose data was wiped while others' was not: it then joins the running
// cluster as the member it was, with an empty log (see Wipe).
func (t *Target) clusterState(ctx context.Context, node string) string {
	if ok, _ := t.cluster.Exists(ctx, node, filepath.Join(t.dataDir(node), "member")); ok {
		return "new"
	}
	for _, n := range t.nodes {
		if ok, _ := t.cluster.Exists(ctx, n.Name, filepath.Join(t.dataDir(n.Name), "member")); ok {
			return "existing"
		}
	}
	return "new"
}

// Setup gives every node an empty data directory and starts every member.
// Call WaitHealthy before using the cluster.
//
// For an existing cluster it only checks that every member's service
// runs, starting it through its manager where it does not.
func (t *Target) Setup(ctx context.Context) error {
	if t.opts.Existing != nil {
		for _, n := range t.nodes {
			if err := t.opts.Existing.StartOn(ctx, t.cluster, n.Name); err != nil {
				return fmt.Errorf("etcd setup: %w", err)
			}
		}
		return nil
	}
	for _, n := range t.nodes {
		// The data only: the node's directory is shared with the agent.
		if err := t.cluster.RemoveAll(ctx, n.Name, t.dataDir(n.Name)); err != nil {
			return fmt.Errorf("etcd setup on %s: %w", n.Name, err)
		}
		if err := t.cluster.MkdirAll(ctx, n.Name, t.nodeDir(n.Name), 0o755); err != nil {
			return fmt.Errorf("etcd setup on %s: %w", n.Name, err)
		}
	}
	for _, n := range t.nodes {
		if err := t.start(ctx, n.Name, "new"); err != nil {
			return err
		}
	}
	return nil
}

// Teardown kills every member and closes the target's clients. Data and
// logs stay in Dir. An existing cluster is left running (started again
// where a fault left a member down).
func (t *Target) Teardown(ctx context.Context) error {
	var errs []error
	for _, n := range t.nodes {
		var err error
		if t.opts.Existing != nil {
			err = t.opts.Existing.StartOn(ctx, t.cluster, n.Name)
		} else {
			err = t.Kill(ctx, n.Name)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	t.mu.Lock()
	for name, c := range t.admins {
		c.Close()
		delete(t.admins, name)
	}
	t.mu.Unlock()
	return errors.Join(errs...)
}

// running returns node's member process, or nil if none runs. A member
// started by another faultline process (cluster up) is found by its pid
// file when the cluster can adopt processes.
func (t *Target) running(ctx context.Context, node string) control.Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[node]; p != nil {
		select {
		case <-p.Done():
			delete(t.procs, node)
		default:
			return p
		}
	}
	if t.opts.Existing != nil {
		return nil
	}
	b, err := t.cluster.ReadFile(ctx, node, t.pidPath(node))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	p, err := t.cluster.Adopt(ctx, node, pid)
	if err != nil {
		return nil
	}
	t.procs[node] = p
	return p
}

// Start starts node's member on the data it has. Starting a running member
// is an error.
func (t *Target) Start(ctx context.Context, node string) error {
	if t.opts.Existing != nil {
		if _, err := t.node(node); err != nil {
			return err
		}
		return t.opts.Existing.StartOn(ctx, t.cluster, node)
	}
	return t.start(ctx, node, t.clusterState(ctx, node))
}

func (t *Target) start(ctx context.Context, node, state string) error {
	n, err := t.node(node)
	if err != nil {
		return err
	}
	if p := t.running(ctx, node); p != nil {
		return fmt.Errorf("etcd start on %s: already running (pid %d)", node, p.Pid())
	}
	command := t.opts.Command
	if len(command) == 0 {
		command = []string{t.cluster.Binary(node), MemberCommand}
	}
	p, err := t.cluster.Start(ctx, node, control.Cmd{
		Path:    command[0],
		Args:    append(slices.Clone(command[1:]), t.memberArgs(n, state)...),
		Env:     t.opts.Env,
		LogPath: t.logPath(node),
	})
	if err != nil {
		return fmt.Errorf("etcd start on %s: %w", node, err)
	}
	if err := t.cluster.WriteFile(ctx, node, t.pidPath(node), []byte(strconv.Itoa(p.Pid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("etcd start on %s: %w", node, err)
	}
	t.mu.Lock()
	t.procs[node] = p
	t.mu.Unlock()
	return nil
}

// Stop asks node's member to exit (SIGTERM, and SIGCONT in case it is
// paused) and waits; after StopTimeout it kills it.
func (t *Target) Stop(ctx context.Context, node string) error {
	if _, err := t.node(node); err != nil {
		return err
	}
	if t.opts.Existing != nil {
		return fmt.Errorf("etcd stop on %s: the cluster is an existing one; faultline does not stop it", node)
	}
	p := t.running(ctx, node)
	if p == nil {
		return nil
	}
	if err := targets.SignalLive(p, syscall.SIGTERM); err != nil {
		return fmt.Errorf("etcd stop on %s: %w", node, err)
	}
	_ = targets.SignalLive(p, syscall.SIGCONT)
	wctx, cancel := context.WithTimeout(ctx, t.opts.StopTimeout)
	defer cancel()
	if _, err := p.Wait(wctx); err == nil {
		return t.forget(node, p)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("etcd stop on %s: %w", node, ctx.Err())
	}
	return t.Kill(ctx, node)
}

// Kill kills node's member (SIGKILL) and waits for it to go.
func (t *Target) Kill(ctx context.Context, node string) error {
	if _, err := t.node(node); err != nil {
		return err
	}
	if t.opts.Existing != nil {
		return t.opts.Existing.Kill(ctx, t.cluster, node)
	}
	p := t.running(ctx, node)
	if p == nil {
		return nil
	}
	if err := targets.Kill(ctx, p); err != nil {
		return fmt.Errorf("etcd kill on %s: %w", node, err)
	}
	return t.forget(node, p)
}

func (t *Target) forget(node string, p control.Process) error {
	t.mu.Lock()
	if t.procs[node] == p {
		delete(t.procs, node)
	}
	t.mu.Unlock()
	return nil
}

// Processes implements targets.DB: the member's process, or the existing
// service's.
func (t *Target) Processes(ctx context.Context, node string) ([]int, error) {
	if _, err := t.node(node); err != nil {
		return nil, err
	}
	if t.opts.Existing != nil {
		return t.opts.Existing.Pids(ctx, t.cluster, node)
	}
	if p := t.running(ctx, node); p != nil {
		return []int{p.Pid()}, nil
	}
	return nil, nil
}

// RestartCommand implements targets.Restarter for an existing cluster:
// its manager's start command. A member faultline started has none.
func (t *Target) RestartCommand(node string) []string {
	if t.opts.Existing == nil {
		return nil
	}
	if _, err := t.node(node); err != nil {
		return nil
	}
	return t.opts.Existing.StartCommand(t.cluster, node)
}

// CollectLogs implements targets.LogCollector: an existing cluster's logs
// (files or journal); a member's log file otherwise.
func (t *Target) CollectLogs(ctx context.Context, node, dir string) error {
	if t.opts.Existing != nil {
		return t.opts.Existing.CollectLogs(ctx, t.cluster, node, dir)
	}
	return t.cluster.Download(ctx, node, t.logPath(node), filepath.Join(dir, filepath.Base(t.logPath(node))))
}

// Restart stops node's member if it runs (gracefully) and starts it again
// on its data.
func (t *Target) Restart(ctx context.Context, node string) error {
	if err := t.Stop(ctx, node); err != nil {
		return err
	}
	return t.Start(ctx, node)
}

// Wipe removes node's data directory (the data-loss fault). The member
// must not be running. Started again, it joins the running cluster with an
// empty log, which etcd's raft detects and answers with a panic
// ("tocommit … is out of range"): bringing it back for good needs a member
// remove and add, which this target does not do yet.
func (t *Target) Wipe(ctx context.Context, node string) error {
	if _, err := t.node(node); err != nil {
		return err
	}
	if t.opts.Existing != nil {
		return fmt.Errorf("etcd wipe on %s: the cluster is an existing one; faultline never removes its data", node)
	}
	if p := t.running(ctx, node); p != nil {
		return fmt.Errorf("etcd wipe on %s: the member is running (pid %d); kill it first", node, p.Pid())
	}
	if err := t.cluster.RemoveAll(ctx, node, t.dataDir(node)); err != nil {
		return fmt.Errorf("etcd wipe on %s: %w", node, err)
	}
	return nil
}

// LogFiles lists node's log files.
func (t *Target) LogFiles(node string) []string {
	if t.opts.Existing != nil {
		var out []string
		for _, l := range t.opts.Existing.Logs {
			if l != "journald" && l != service.Container {
				out = append(out, l)
			}
		}
		return out
	}
	return []string{t.logPath(node)}
}

// Client returns a new register client bound to node; the caller closes
// it.
func (t *Target) Client(node string) (*Client, error) {
	n, err := t.node(node)
	if err != nil {
		return nil, err
	}
	c, err := newClient(node, []string{t.clientURL(n)}, t.opts.RequestTimeout, t.opts.ReadConsistency == Serializable)
	if err != nil {
		return nil, err
	}
	c.lockTTL = t.opts.LockTTL
	return c, nil
}

// admin returns the target's own client to node, for health and status
// checks: always linearizable.
func (t *Target) admin(node string) (*Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.admins[node]; c != nil {
		return c, nil
	}
	n, err := t.node(node)
	if err != nil {
		return nil, err
	}
	c, err := newClient(node, []string{t.clientURL(n)}, t.opts.RequestTimeout, false)
	if err != nil {
		return nil, err
	}
	t.admins[node] = c
	return c, nil
}
