package ssh

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/options"
)

// BackendName is the name the backend is registered under.
const BackendName = "ssh"

func init() {
	control.Register(control.Backend{
		Name:    BackendName,
		Doc:     "nodes are hosts reached over SSH (an inventory of nodes is required)",
		Options: Specs,
		New: func(ctx context.Context, cfg control.Config) (control.Cluster, error) {
			return New(ctx, cfg)
		},
		Attach: func(ctx context.Context, ref control.Ref, cfg control.Config) (control.Cluster, error) {
			return Attach(ctx, ref, cfg)
		},
	})
}

// Cluster is a set of SSH hosts. It implements control.Cluster.
type Cluster struct {
	control.ExecFS

	set       settings
	runID     string
	nodes     []control.Node
	conns     map[string]*nodeConn
	order     []*nodeConn
	dirs      map[string]string // NodeDir
	bins      map[string]string // installed agent
	auth      *auth
	hk        *hostKeys
	logFn     func(format string, args ...any)
	progressW io.Writer
	bg        context.Context // ends at Teardown or Disconnect: polls, keepalives
	stopBg    context.CancelFunc

	mu    sync.Mutex
	state clusterState
	procs map[*process]struct{}
}

type clusterState int

const (
	live clusterState = iota
	tearingDown
	tornDown
	disconnected
)

var _ control.Cluster = (*Cluster)(nil)

// locator is a NodeRef's Locator: how Attach reaches the node again.
type locator struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	User string `json:"user"`
}

var (
	nameRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	idChars = "abcdefghijklmnopqrstuvwxyz0123456789"
)

func newRunID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return string(b)
}

func (c *Cluster) logf(format string, args ...any) {
	if c.logFn != nil {
		c.logFn(format, args...)
	}
}

// New connects to every node of cfg.Nodes, verifies it, and only then
// makes the run's directory on each and installs faultline's binary as the
// agent. If any node fails, it closes every connection and returns an
// error listing each failure; nothing is made on any node.
func New(ctx context.Context, cfg control.Config) (*Cluster, error) {
	c, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	if c.runID == "" {
		c.runID = newRunID()
	}
	if !nameRe.MatchString(c.runID) || strings.Contains(c.runID, "..") {
		c.close()
		return nil, fmt.Errorf("ssh: run id %q: want letters, digits, '.', '_' or '-'", c.runID)
	}
	specs := cfg.Nodes
	if len(specs) == 0 {
		c.close()
		return nil, errors.New("ssh: no nodes: the ssh backend needs an inventory (nodes: in the plan, or --nodes)")
	}
	if err := c.connectAll(ctx, specs); err != nil {
		c.close()
		return nil, err
	}
	for _, n := range c.order {
		c.dirs[n.name] = path.Join(c.set.home, "runs", c.runID, n.name)
	}
	if err := c.install(ctx, true); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// Attach reaches the cluster ref describes again (faultline heal, cluster
// down), with the same verification as New. It reuses the nodes'
// directories and agent binaries (installing the binary again where it has
// gone) and makes nothing else.
func Attach(ctx context.Context, ref control.Ref, cfg control.Config) (*Cluster, error) {
	if ref.Backend != "" && ref.Backend != BackendName {
		return nil, fmt.Errorf("ssh: cannot attach to a %s cluster", ref.Backend)
	}
	if cfg.Options == nil && ref.Options != nil {
		v, err := resolveRefOptions(ref.Options)
		if err != nil {
			return nil, err
		}
		cfg.Options = v
	}
	c, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	c.runID = ref.RunID
	var specs []control.NodeSpec
	for _, nr := range ref.Nodes {
		var loc locator
		if len(nr.Locator) > 0 {
			if err := json.Unmarshal(nr.Locator, &loc); err != nil {
				c.close()
				return nil, fmt.Errorf("ssh: node %s: bad locator: %w", nr.Name, err)
			}
		}
		specs = append(specs, control.NodeSpec{Name: nr.Name, Host: loc.Host, Port: loc.Port, User: loc.User, Addr: nr.Addr})
		c.dirs[nr.Name] = nr.Dir
		c.bins[nr.Name] = nr.Binary
	}
	if len(specs) == 0 {
		c.close()
		return nil, errors.New("ssh: the cluster reference names no nodes")
	}
	if err := c.connectAll(ctx, specs); err != nil {
		c.close()
		return nil, err
	}
	if err := c.install(ctx, false); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// prepare parses the options and loads keys and known_hosts.
func prepare(cfg control.Config) (*Cluster, error) {
	set, err := parseSettings(cfg.Options)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		set:       set,
		runID:     cfg.RunID,
		conns:     map[string]*nodeConn{},
		dirs:      map[string]string{},
		bins:      map[string]string{},
		logFn:     cfg.Logf,
		progressW: cfg.Progress,
		procs:     map[*process]struct{}{},
	}
	c.ExecFS = control.ExecFS{Execer: c}
	c.bg, c.stopBg = context.WithCancel(context.Background())
	if c.hk, err = loadHostKeys(set.knownHosts, set.acceptNew); err != nil {
		c.stopBg()
		return nil, fmt.Errorf("ssh: %w", err)
	}
	c.hk.logf = c.logf
	if c.auth, err = newAuth(set); err != nil {
		c.stopBg()
		return nil, fmt.Errorf("ssh: %w", err)
	}
	return c, nil
}

// connectAll resolves every node through ssh config, then connects to all
// of them at once and checks sudo. Node.Addr is an IP: partition rules
// name it.
func (c *Cluster) connectAll(ctx context.Context, specs []control.NodeSpec) error {
	sshCfg, err := loadSSHConfig(c.set)
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	var errs []*ConnectError
	seen := map[string]bool{}
	for _, s := range specs {
		if !nameRe.MatchString(s.Name) || strings.Contains(s.Name, "..") {
			return fmt.Errorf("ssh: node name %q: want letters, digits, '.', '_' or '-'", s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("ssh: node %q named twice", s.Name)
		}
		seen[s.Name] = true
		host := s.Host
		if host == "" {
			host = s.Name
		}
		t, err := resolveTarget(sshCfg, host, s.Port, s.User, c.set.user, true)
		if err != nil {
			errs = append(errs, &ConnectError{Node: s.Name, Target: host, Err: err})
			continue
		}
		n := newNodeConn(c, s.Name, t)
		switch c.set.sudo {
		case SudoAlways:
			n.sudo = true
		case SudoAuto:
			n.sudo = t.user != "root"
		}
		c.conns[s.Name] = n
		c.order = append(c.order, n)
	}
	if len(errs) > 0 {
		return &connectErrors{total: len(specs), errs: errs}
	}
	addrs := make([]netip.Addr, len(c.order))
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i, n := range c.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr, err := c.connectNode(ctx, n, specs[i].Addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, &ConnectError{Node: n.name, Target: n.target.String(), Err: err})
				return
			}
			addrs[i] = addr
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return &connectErrors{total: len(specs), errs: errs}
	}
	for i, n := range c.order {
		c.nodes = append(c.nodes, control.Node{Name: n.name, Addr: addrs[i]})
	}
	c.logf("ssh: connected to %d nodes in %v", len(c.order), time.Since(start).Round(time.Millisecond))
	return nil
}

// connectNode dials n once (no retry: New must fail fast), checks that
// sudo works without a password where it is used, and finds the node's
// address.
func (c *Cluster) connectNode(ctx context.Context, n *nodeConn, specAddr string) (netip.Addr, error) {
	l, err := c.dial(ctx, n.target)
	if err != nil {
		return netip.Addr{}, err
	}
	n.mu.Lock()
	n.install(l)
	n.mu.Unlock()
	if n.sudo {
		if err := c.checkSudo(ctx, n); err != nil {
			return netip.Addr{}, err
		}
	}
	addr, err := c.nodeAddr(ctx, n, l, specAddr)
	if err != nil {
		return netip.Addr{}, err
	}
	c.logf("ssh: %s: %s connected (address %s, sudo %v)", n.name, n.target, addr, n.sudo)
	return addr, nil
}

// checkSudo runs `sudo -n true`: sudo must not ask for a password, since
// nobody is there to type it.
func (c *Cluster) checkSudo(ctx context.Context, n *nodeConn) error {
	sess, release, err := n.session(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	defer sess.Close()
	out, err := sess.CombinedOutput("sudo -n true")
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(out))
	var ee interface{ ExitStatus() int }
	switch {
	case strings.Contains(msg, "password is required") || strings.Contains(msg, "a terminal is required"):
		return fmt.Errorf("%w: %s is not root and `sudo -n true` fails (%s): give %s passwordless sudo (NOPASSWD in sudoers), or log in as root (--ssh-user root)", ErrSudoPassword, n.target.user, msg, n.target.user)
	case errors.As(err, &ee) && ee.ExitStatus() == 127:
		return fmt.Errorf("%s is not root and sudo is not installed on the node (%s): install it, or log in as root (--ssh-user root)", n.target.user, msg)
	case errors.As(err, &ee):
		return fmt.Errorf("%s is not root and `sudo -n true` fails: %s", n.target.user, msg)
	default:
		return fmt.Errorf("checking sudo: %w", err)
	}
}

// nodeAddr is the spec's address (resolved if it is a name), else the
// address a direct connection reached, else the host name resolved here.
func (c *Cluster) nodeAddr(ctx context.Context, n *nodeConn, l *link, specAddr string) (netip.Addr, error) {
	name := specAddr
	if name == "" {
		if l.remote.IsValid() {
			return l.remote, nil
		}
		name = n.target.hostname
	}
	if a, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return a.Unmap(), nil
	}
	rctx, cancel := context.WithTimeout(ctx, c.set.connectTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", name)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("cannot resolve %s to the node's address (partition rules need an IP): %v; set addr in the node's spec", name, err)
	}
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			return ip.Unmap(), nil
		}
	}
	return ips[0], nil
}

// node returns the connection of node name, or why it cannot be used.
func (c *Cluster) node(name string) (*nodeConn, error) {
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	switch st {
	case tearingDown, tornDown:
		return nil, fmt.Errorf("ssh cluster %s: %w", c.runID, control.ErrTornDown)
	case disconnected:
		return nil, fmt.Errorf("ssh cluster %s: %w", c.runID, ErrDisconnected)
	}
	n, ok := c.conns[name]
	if !ok {
		return nil, &control.NodeError{Backend: BackendName, Node: name}
	}
	return n, nil
}

// Backend implements control.Cluster.
func (c *Cluster) Backend() string { return BackendName }

// RunID implements control.Cluster.
func (c *Cluster) RunID() string { return c.runID }

// Nodes implements control.Cluster.
func (c *Cluster) Nodes() []control.Node { return slices.Clone(c.nodes) }

// NodeDir implements control.Cluster: <home>/runs/<run id>/<node>.
func (c *Cluster) NodeDir(node string) string { return c.dirs[node] }

// Binary implements control.Cluster: <home>/bin/faultline-<hash>.
func (c *Cluster) Binary(node string) string { return c.bins[node] }

// Exec implements control.Cluster.
func (c *Cluster) Exec(ctx context.Context, node string, cmd control.Cmd) ([]byte, error) {
	n, err := c.node(node)
	if err != nil {
		return nil, err
	}
	return c.run(ctx, n, cmd)
}

// Ref implements control.Cluster. It holds option values, paths and names
// only: no option is a secret (passphrase-env names a variable).
func (c *Cluster) Ref() control.Ref {
	ref := control.Ref{Backend: BackendName, RunID: c.runID, Options: map[string]string{}}
	for k, v := range c.set.values {
		ref.Options[k] = v
	}
	for i, n := range c.order {
		loc, _ := json.Marshal(locator{Host: n.target.alias, Port: n.target.port, User: n.target.user})
		ref.Nodes = append(ref.Nodes, control.NodeRef{
			Name:    n.name,
			Addr:    c.nodes[i].Addr.String(),
			Dir:     c.dirs[n.name],
			Binary:  c.bins[n.name],
			Locator: loc,
		})
	}
	return ref
}

// agentCmd is the agent verb args on node n.
func (c *Cluster) agentCmd(n *nodeConn, args ...string) control.Cmd {
	return control.Cmd{Path: c.bins[n.name], Args: append([]string{"agent"}, args...)}
}

// Teardown implements control.Cluster: on every node it kills what the run
// started (the agent's reap of the run's directory, and the processes
// started with piped I/O), removes the run's directory (and runs/<run id>
// when that is left empty), then closes the connections. The agent binary
// stays, for the next run. It is safe to call more than once; after it,
// methods fail with control.ErrTornDown.
func (c *Cluster) Teardown(ctx context.Context) error {
	c.mu.Lock()
	switch c.state {
	case tearingDown, tornDown:
		c.mu.Unlock()
		return nil
	case disconnected:
		c.mu.Unlock()
		return fmt.Errorf("ssh cluster %s: %w: attach again to tear it down", c.runID, ErrDisconnected)
	}
	c.state = tearingDown
	procs := make([]*process, 0, len(c.procs))
	for p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()

	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, n := range c.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.teardownNode(ctx, n, procs); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s (%s): %w", n.name, n.target, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Reaped processes report their end through their spawn sessions;
	// those whose sessions had gone are marked gone now.
	gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, p := range procs {
		select {
		case <-p.Done():
		case <-gctx.Done():
		}
		p.finish(control.ExitStatus{Code: -1}, nil)
	}
	c.close()
	c.mu.Lock()
	c.state = tornDown
	c.mu.Unlock()
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return fmt.Errorf("ssh: tearing down run %s: %w", c.runID, errors.Join(errs...))
	}
	c.logf("ssh: run %s torn down on %d nodes", c.runID, len(c.order))
	return nil
}

func (c *Cluster) teardownNode(ctx context.Context, n *nodeConn, procs []*process) error {
	var errs []error
	for _, p := range procs {
		if p.node == n && p.piped {
			if err := p.signal(ctx, "KILL"); err != nil && !errors.Is(err, control.ErrExited) {
				errs = append(errs, err)
			}
		}
	}
	dir := c.dirs[n.name]
	if dir == "" {
		return errors.Join(errs...)
	}
	if _, err := c.run(ctx, n, c.agentCmd(n, "reap", "--dir", dir)); err != nil {
		// The run's directory names what may still run: keep it.
		return errors.Join(append(errs, fmt.Errorf("reaping the run's processes: %w", err))...)
	}
	script := `rm -rf -- "$1" && rmdir -- "$2" 2>/dev/null; exit 0`
	if _, err := c.run(ctx, n, control.Cmd{Path: "/bin/sh", Args: []string{"-c", script, "faultline", dir, path.Dir(dir)}}); err != nil {
		errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// Disconnect drops the connections without tearing anything down: what
// the run started keeps running (faultline cluster up, whose cluster
// outlives the command). Afterwards methods fail with ErrDisconnected, and
// handles of started processes are left as they are.
func (c *Cluster) Disconnect() {
	c.mu.Lock()
	if c.state != live {
		c.mu.Unlock()
		return
	}
	c.state = disconnected
	c.mu.Unlock()
	c.close()
}

// close stops background work and closes every connection.
func (c *Cluster) close() {
	c.stopBg()
	reason := fmt.Errorf("ssh cluster %s: %w", c.runID, control.ErrTornDown)
	c.mu.Lock()
	if c.state == disconnected {
		reason = fmt.Errorf("ssh cluster %s: %w", c.runID, ErrDisconnected)
	}
	c.mu.Unlock()
	for _, n := range c.order {
		n.close(reason)
	}
	c.auth.close()
}

// resolveRefOptions keeps the Ref's options this version knows (a newer
// faultline's Ref may have more); parseSettings checks them.
func resolveRefOptions(given map[string]string) (options.Values, error) {
	known := options.Values{}
	for k, v := range given {
		for _, s := range Specs {
			if s.Name == k {
				known[k] = v
			}
		}
	}
	return known, nil
}
