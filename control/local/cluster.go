package local

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/hostnet"
)

// Options configure a new local cluster.
type Options struct {
	// Nodes names the nodes; empty means n1 … n3.
	Nodes []string
	// RunID names the run's namespaces and links; empty means a random one.
	RunID string
	// Subnet is the /24 (or larger) the nodes live in; the zero value means
	// one is picked that no host route or address covers.
	Subnet netip.Prefix
	// Detached makes the cluster outlive this process: its processes hold
	// the run's lock, so Cleanup treats it as live while any of them runs
	// (and removes it only when asked to remove detached clusters).
	Detached bool
	// StoreDir is the run's store directory: node directories are
	// StoreDir/nodes/<node>, so that logs are in place without a copy.
	// Empty means control.RunDir(run id)/<node>.
	StoreDir string

	_ struct{}
}

// Cluster is a set of network namespaces on this host joined by a bridge.
// It implements control.Cluster and control.Transferer.
type Cluster struct {
	// Nodes share the host's filesystem: node files are the host's.
	control.HostFS
	id       string
	subnet   netip.Prefix
	hostAddr netip.Addr
	nodes    []control.Node
	detached bool
	dirs     map[string]string // node directory by node

	mu    sync.Mutex
	lock  *os.File // nil for an attached cluster
	procs map[*process]struct{}
	torn  bool
}

var _ control.Cluster = (*Cluster)(nil)

// New creates a cluster: a namespace per node joined by a bridge, and the
// controller's veth into it. On error, whatever was made is removed.
func New(ctx context.Context, opts Options) (c *Cluster, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the local backend needs root to make network namespaces and veth links: run faultline with sudo,, or try faultline without root with --target memory (an in-process register: no nodes, no faults)")
	}
	id := opts.RunID
	if id == "" {
		id = NewRunID()
	}
	if err := checkRunID(id); err != nil {
		return nil, err
	}
	names := opts.Nodes
	if len(names) == 0 {
		names = NodeNames(3)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if err := checkNodeName(n); err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, fmt.Errorf("node name %q given twice", n)
		}
		seen[n] = true
	}

	unlock, err := hostnet.LockDir(ctx, lockDir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	lock, err := createRunLock(id, opts.Detached)
	if err != nil {
		return nil, err
	}
	c = &Cluster{id: id, detached: opts.Detached, lock: lock, procs: map[*process]struct{}{}, dirs: map[string]string{}}
	c.HostFS = control.HostFS{Check: c.checkNode}
	for _, n := range names {
		if opts.StoreDir != "" {
			abs, err := filepath.Abs(filepath.Join(opts.StoreDir, "nodes", n))
			if err != nil {
				lock.Close()
				return nil, err
			}
			c.dirs[n] = abs
		} else {
			c.dirs[n] = filepath.Join(control.RunDir(id), n)
		}
	}
	defer func() {
		if err != nil {
			// A fresh context: ctx may be what failed.
			if terr := c.Teardown(context.Background()); terr != nil {
				err = errors.Join(err, fmt.Errorf("removing the half-made cluster: %w", terr))
			}
			c = nil
		}
	}()

	subnet := opts.Subnet
	if !subnet.IsValid() {
		used, err := hostnet.UsedPrefixes()
		if err != nil {
			return c, err
		}
		if subnet, err = pickSubnet(id, used); err != nil {
			return c, err
		}
	}
	subnet = subnet.Masked()
	if !subnet.Addr().Is4() || subnet.Bits() > 30 || 1<<(32-subnet.Bits()) < len(names)+12 {
		return c, fmt.Errorf("subnet %s: want an IPv4 prefix with room for %d nodes", subnet, len(names))
	}
	c.subnet = subnet
	c.hostAddr = subnet.Addr().Next()
	addr := subnet.Addr()
	for range 10 {
		addr = addr.Next()
	}
	for _, n := range names {
		addr = addr.Next() // n1 is .11, n2 .12, … in a /24
		c.nodes = append(c.nodes, control.Node{Name: n, Addr: addr})
	}

	if err := hostnet.Build(ctx, c.topology()); err != nil {
		return c, err
	}
	return c, nil
}

// topology is what New builds: the hub namespace fl-<id>-hub with bridge
// flbr-<id>, the controller's veth fl-<id> ("host" on the bridge), and a
// namespace fl-<id>-<node> per node.
func (c *Cluster) topology() hostnet.Topology {
	t := hostnet.Topology{Hub: hubNamespace(c.id), Bridge: bridgeName(c.id), HostLink: hostLinkName(c.id), Subnet: c.subnet, HostAddr: c.hostAddr}
	for _, n := range c.nodes {
		t.Nodes = append(t.Nodes, hostnet.Node{Name: n.Name, Namespace: NamespaceName(c.id, n.Name), Addr: n.Addr})
	}
	return t
}

// errNoCluster is wrapped by Attach when no namespace of the run is left:
// the only error that means the cluster has gone (control.ErrGone). Any
// other error (a namespace that cannot be read) leaves the cluster in
// place, to be reported and torn down, not forgotten.
var errNoCluster = errors.New("cluster not found")

// Attach returns the cluster of run id, made earlier by New in this or
// another process (e.g. `faultline cluster up`), to inspect, signal or tear
// down. Processes it did not start itself are reached through Processes.
func Attach(id string) (*Cluster, error) {
	if err := checkRunID(id); err != nil {
		return nil, err
	}
	all, err := hostnet.ListNamespaces()
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	c := &Cluster{id: id, procs: map[*process]struct{}{}, dirs: map[string]string{}}
	c.HostFS = control.HostFS{Check: c.checkNode}
	_, meta := runLockState(id)
	c.detached = meta.Detached
	found := false
	for _, name := range all {
		rid, node, ok := parseNamespace(name)
		if !ok || rid != id {
			continue
		}
		found = true
		if node == hubName {
			continue
		}
		addr, bits, err := nodeAddr(name)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, control.Node{Name: node, Addr: addr})
		c.subnet = netip.PrefixFrom(addr, bits).Masked()
		c.dirs[node] = filepath.Join(control.RunDir(id), node)
	}
	if !found {
		return nil, fmt.Errorf("%w: no cluster with run id %s on this host (no namespace %s)", errNoCluster, id, NamespaceName(id, "*"))
	}
	// With only the hub left (a teardown cut short) c has no node, and
	// Teardown still removes what is there.
	slices.SortFunc(c.nodes, func(a, b control.Node) int {
		if nodeLess(a.Name, b.Name) {
			return -1
		}
		return 1
	})
	if len(c.nodes) > 0 {
		c.hostAddr = c.subnet.Addr().Next()
	}
	return c, nil
}

func nodeAddr(nsName string) (netip.Addr, int, error) {
	h, fd, err := hostnet.HandleAt(nsName)
	if err != nil {
		return netip.Addr{}, 0, err
	}
	defer fd.Close()
	defer h.Close()
	l, err := h.LinkByName(nodeLink)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("finding %s in %s: %w", nodeLink, nsName, err)
	}
	addrs, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, 0, fmt.Errorf("no IPv4 address on %s in %s: %v", nodeLink, nsName, err)
	}
	p, _ := hostnet.IPNetPrefix(addrs[0].IPNet)
	return p.Addr(), p.Bits(), nil
}

// RunID is the id in the names of everything the cluster made.
func (c *Cluster) RunID() string { return c.id }

// Backend implements control.Cluster.
func (c *Cluster) Backend() string { return BackendName }

// NodeDir implements control.Cluster.
func (c *Cluster) NodeDir(node string) string { return c.dirs[node] }

// SetNodeDirs sets the node directories of an attached cluster (from its
// control.Ref).
func (c *Cluster) SetNodeDirs(dirs map[string]string) {
	for n, d := range dirs {
		if d != "" {
			c.dirs[n] = d
		}
	}
}

// Binary implements control.Cluster: nodes share this host's filesystem,
// so faultline's agent is the controller's own executable.
func (c *Cluster) Binary(node string) string {
	p, _ := control.BinaryPath()
	return p
}

// Ref implements control.Cluster.
func (c *Cluster) Ref() control.Ref {
	r := control.Ref{Backend: BackendName, RunID: c.id}
	for _, n := range c.nodes {
		r.Nodes = append(r.Nodes, control.NodeRef{Name: n.Name, Addr: n.Addr.String(), Dir: c.dirs[n.Name], Binary: c.Binary(n.Name)})
	}
	return r
}

// Subnet is the prefix the nodes' addresses are in.
func (c *Cluster) Subnet() netip.Prefix { return c.subnet }

// HostAddr is the controller's address in the cluster's subnet: the source
// address nodes see for the controller's connections.
func (c *Cluster) HostAddr() netip.Addr { return c.hostAddr }

// Detached reports whether the cluster was made to outlive its creator.
func (c *Cluster) Detached() bool { return c.detached }

// Nodes implements control.Cluster.
func (c *Cluster) Nodes() []control.Node { return slices.Clone(c.nodes) }

// Namespace is the name of node's network namespace (as `ip netns` shows
// it), for tools that must run there themselves.
func (c *Cluster) Namespace(node string) (string, error) {
	if err := c.checkNode(node); err != nil {
		return "", err
	}
	return NamespaceName(c.id, node), nil
}

func (c *Cluster) checkNode(node string) error {
	for _, n := range c.nodes {
		if n.Name == node {
			return nil
		}
	}
	return fmt.Errorf("local cluster %s: node %q: %w", c.id, node, control.ErrNoNode)
}

// Processes lists the processes running in node's namespace, whoever
// started them.
func (c *Cluster) Processes(node string) ([]Proc, error) {
	ns, err := c.Namespace(node)
	if err != nil {
		return nil, err
	}
	ino, err := hostnet.NamespaceInode(ns)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	return procsInNamespaces(map[uint64]string{ino: ns}), nil
}

// Teardown implements control.Cluster: it kills every process in the
// cluster's namespaces, deletes the controller's veth and the namespaces
// (and with them the bridge, the nodes' links and their iptables rules),
// and releases the run's lock.
func (c *Cluster) Teardown(ctx context.Context) error {
	c.mu.Lock()
	c.torn = true
	procs := make([]*process, 0, len(c.procs))
	for p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	// Our own children first, by handle, so their waiters reap them.
	for _, p := range procs {
		_ = p.Signal(syscall.SIGKILL)
	}
	_, err := removeRun(ctx, c.id)
	for _, p := range procs {
		select {
		case <-p.Done():
		case <-ctx.Done():
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
	return err
}
