package docker

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/images"
	"github.com/faultline-dev/faultline/internal/hostnet"
	"github.com/faultline-dev/faultline/internal/options"
)

// BackendName is the docker backend's name in control's registry.
const BackendName = "docker"

// Labels on every object faultline makes, and what heal looks for.
const (
	LabelRun      = "io.faultline.run"
	labelNode     = "io.faultline.node"
	labelOwner    = "io.faultline.owner" // pid:start:boot id
	labelDetached = "io.faultline.detached"
)

// Options are the backend's options (--control-opt KEY=VALUE; the CLI's
// --docker-project, --docker-label and --docker-containers set the first
// three).
var Options = []options.Spec{
	{Name: "project", Doc: "attach to the containers of this Compose project (by its labels)"},
	{Name: "label", Doc: "attach to the containers with this label, K=V"},
	{Name: "containers", Doc: "attach to these containers, by name or id, comma-separated"},
	{Name: "image", Doc: "create mode: run nodes from this local image instead of faultline's own (it must hold faultline's binary at /faultline)"},
	{Name: "pause", Doc: "how the pause fault pauses a container: sigstop (its processes, state T) or freezer (docker pause)", Default: "sigstop", Values: []string{"sigstop", "freezer"}},
}

func init() {
	control.Register(control.Backend{
		HostDirs:   true,
		Name:       BackendName,
		Doc:        "containers on the local Docker engine: made for the run (images built locally, never pulled), or a Compose project's (--docker-project) left as they are",
		Options:    Options,
		Containers: true,
		DefaultNodes: func(n int) []control.NodeSpec {
			var out []control.NodeSpec
			for i := range n {
				out = append(out, control.NodeSpec{Name: "n" + strconv.Itoa(i+1)})
			}
			return out
		},
		FindsNodes: attachMode,
		New:        New,
		Attach:     Attach,
		Sweep:      Sweep,
	})
}

// node is one container of the cluster.
type node struct {
	name    string
	id      string // container id
	cname   string // container name
	addr    netip.Addr
	netID   string   // the network addr is on
	aliases []string // its aliases there (Compose's service name), kept when it is connected again
	dir     string   // NodeDir, on the host
	created bool
}

// Cluster is a set of containers on the local engine. It implements
// control.Cluster and control.Containers.
type Cluster struct {
	control.HostFS
	cli      *client.Client
	id       string
	attached bool // the user's containers
	nodes    []*node
	netID    string // created mode's network
	pause    string
	hostBin  string
	image    string

	mu    sync.Mutex
	procs map[*process]struct{}
	torn  bool
	bg    context.Context
	stop  context.CancelFunc
}

var (
	_ control.Cluster    = (*Cluster)(nil)
	_ control.Containers = (*Cluster)(nil)
)

func newRunID() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

func newCluster(cli *client.Client, id string, opts options.Values) (*Cluster, error) {
	bin, err := control.BinaryPath()
	if err != nil {
		return nil, err
	}
	c := &Cluster{cli: cli, id: id, pause: opts.Get("pause"), hostBin: bin, procs: map[*process]struct{}{}}
	c.HostFS = control.HostFS{Check: c.checkNode}
	c.bg, c.stop = context.WithCancel(context.Background())
	return c, nil
}

// attachMode says whether the options name containers to attach to.
func attachMode(opts options.Values) bool {
	return opts.Get("project") != "" || opts.Get("label") != "" || opts.Get("containers") != ""
}

// New implements control.Backend.New: attach mode when the options name
// containers, else create mode.
func New(ctx context.Context, cfg control.Config) (control.Cluster, error) {
	cli, err := images.NewClient()
	if err != nil {
		return nil, err
	}
	id := cfg.RunID
	if id == "" {
		id = newRunID()
	}
	c, err := newCluster(cli, id, cfg.Options)
	if err != nil {
		return nil, err
	}
	if attachMode(cfg.Options) {
		if err := c.attachUsers(ctx, cfg); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := c.create(ctx, cfg); err != nil {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if terr := c.Teardown(tctx); terr != nil {
			err = errors.Join(err, fmt.Errorf("removing the half-made cluster: %w", terr))
		}
		return nil, err
	}
	return c, nil
}

// owner is the label value naming this controller.
func owner() string {
	o := control.Self()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return fmt.Sprintf("%d:%d:%s", o.Pid, o.Start, strings.TrimSpace(string(boot)))
}

// ownerAlive reports whether the controller a label names still runs.
func ownerAlive(label string) bool {
	f := strings.SplitN(label, ":", 3)
	if len(f) != 3 {
		return false
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if f[2] != strings.TrimSpace(string(boot)) {
		return false // made before this boot
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	return err1 == nil && err2 == nil && control.Owner{Pid: pid, Start: start}.Alive()
}

func (c *Cluster) labels(nodeName string, detached bool) map[string]string {
	l := map[string]string{LabelRun: c.id, labelOwner: owner()}
	if nodeName != "" {
		l[labelNode] = nodeName
	}
	if detached {
		l[labelDetached] = "true"
	}
	return l
}

func (c *Cluster) create(ctx context.Context, cfg control.Config) error {
	image := cfg.Options.Get("image")
	if image == "" {
		if cfg.Image == "" {
			return errors.New("docker: this target has no image of faultline's to run from; give one with --control-opt image=REF")
		}
		ref, err := images.Ensure(ctx, c.cli, cfg.Image, cfg.Progress)
		if err != nil {
			return fmt.Errorf("docker: image for %s: %w", cfg.Image, err)
		}
		image = ref
	}
	c.image = image
	netName := "fl-" + c.id
	subnet, err := c.makeNetwork(ctx, netName, cfg.Detached)
	if err != nil {
		return err
	}
	addr := subnet.Addr().Next() // .1 is the gateway: the host
	for range 10 {
		addr = addr.Next()
	}
	for _, spec := range cfg.Nodes {
		addr = addr.Next() // n1 is .11, n2 .12, …
		if spec.Host != "" || spec.Port != 0 || spec.User != "" || spec.Addr != "" {
			return fmt.Errorf("node %s: the docker backend makes its containers itself and takes only their names", spec.Name)
		}
		dir := filepath.Join(control.RunDir(c.id), spec.Name)
		if cfg.StoreDir != "" {
			if dir, err = filepath.Abs(filepath.Join(cfg.StoreDir, "nodes", spec.Name)); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		n := &node{name: spec.Name, cname: "fl-" + c.id + "-" + spec.Name, dir: dir, created: true, netID: c.netID}
		cr, err := c.cli.ContainerCreate(ctx,
			&container.Config{Image: image, Cmd: []string{"/faultline", "agent", "idle"}, Hostname: spec.Name, Labels: c.labels(spec.Name, cfg.Detached)},
			&container.HostConfig{PidMode: "host", Binds: []string{dir + ":" + dir}, NetworkMode: container.NetworkMode(netName)},
			&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{netName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: addr.String()}}}}, nil, n.cname)
		if err != nil {
			return fmt.Errorf("docker: creating container %s: %w", n.cname, err)
		}
		n.id = cr.ID
		c.nodes = append(c.nodes, n)
		if err := c.cli.ContainerStart(ctx, n.id, container.StartOptions{}); err != nil {
			return fmt.Errorf("docker: starting container %s: %w", n.cname, err)
		}
		if err := c.inspect(ctx, n); err != nil {
			return err
		}
	}
	if cfg.Logf != nil {
		var s []string
		for _, n := range c.nodes {
			s = append(s, n.name+"="+n.addr.String())
		}
		cfg.Logf("docker cluster %s: network %s, image %s, containers %s", c.id, netName, image, strings.Join(s, " "))
	}
	return nil
}

// makeNetwork creates the run's network on a /24 of its own (a
// user-configured subnet, so that an unplugged container can come back
// with its address), one that no host route, address or other Docker
// network covers.
func (c *Cluster) makeNetwork(ctx context.Context, name string, detached bool) (netip.Prefix, error) {
	unlock, err := hostnet.LockDir(ctx, lockDir)
	if err != nil {
		return netip.Prefix{}, err
	}
	defer unlock()
	used, err := hostnet.UsedPrefixes()
	if err != nil {
		return netip.Prefix{}, err
	}
	nets, err := c.cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("docker: listing networks: %w", err)
	}
	for _, n := range nets {
		for _, cfg := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(cfg.Subnet); err == nil {
				used = append(used, p)
			}
		}
	}
	cands := hostnet.Slash24s(10, 150, 199)
	h := fnv.New32a()
	h.Write([]byte(c.id))
	start := int(h.Sum32() % uint32(len(cands)))
	for range 20 {
		subnet, ok := hostnet.FirstFree(cands, start, used)
		if !ok {
			return netip.Prefix{}, errors.New("docker: no free /24 in 10.150-199.x for the run's network")
		}
		gw := subnet.Addr().Next()
		resp, err := c.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: c.labels("", detached),
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet.String(), Gateway: gw.String()}}}})
		if err == nil {
			c.netID = resp.ID
			return subnet, nil
		}
		if !strings.Contains(err.Error(), "overlap") {
			return netip.Prefix{}, fmt.Errorf("docker: creating network %s on %s: %w", name, subnet, err)
		}
		used = append(used, subnet) // taken meanwhile: the next
	}
	return netip.Prefix{}, errors.New("docker: every subnet tried for the run's network overlapped another")
}

// lockDir holds the host-wide lock of faultline's Docker networks.
const lockDir = "/run/faultline/docker"

// inspect reads n's address (on its network) from the engine.
func (c *Cluster) inspect(ctx context.Context, n *node) error {
	info, err := c.cli.ContainerInspect(ctx, n.id)
	if err != nil {
		return fmt.Errorf("docker: inspecting %s: %w", n.cname, err)
	}
	n.cname = strings.TrimPrefix(info.Name, "/")
	if info.NetworkSettings == nil {
		return fmt.Errorf("docker: %s has no network", n.cname)
	}
	nets := slices.Sorted(func(yield func(string) bool) {
		for k := range info.NetworkSettings.Networks {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range nets {
		ep := info.NetworkSettings.Networks[name]
		if ep == nil || (n.netID != "" && ep.NetworkID != n.netID) {
			continue
		}
		if a, err := netip.ParseAddr(ep.IPAddress); err == nil {
			n.addr, n.netID, n.aliases = a, ep.NetworkID, ep.Aliases
			return nil
		}
	}
	return fmt.Errorf("docker: %s has no IPv4 address on a user network (networks: %v)", n.cname, nets)
}

// attachUsers finds the user's containers the options name.
func (c *Cluster) attachUsers(ctx context.Context, cfg control.Config) error {
	c.attached = true
	var list []container.Summary
	f := filters.NewArgs()
	switch {
	case cfg.Options.Get("project") != "":
		f.Add("label", "com.docker.compose.project="+cfg.Options.Get("project"))
	case cfg.Options.Get("label") != "":
		f.Add("label", cfg.Options.Get("label"))
	}
	if names := cfg.Options.Get("containers"); names != "" {
		for _, name := range strings.Split(names, ",") {
			info, err := c.cli.ContainerInspect(ctx, strings.TrimSpace(name))
			if err != nil {
				return fmt.Errorf("docker: container %q: %w", name, err)
			}
			list = append(list, container.Summary{ID: info.ID, Names: []string{info.Name}, Labels: info.Config.Labels})
		}
	} else {
		var err error
		if list, err = c.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err != nil {
			return fmt.Errorf("docker: listing containers: %w", err)
		}
	}
	if len(list) == 0 {
		return fmt.Errorf("docker: no container matches (%s)", describeSelection(cfg.Options))
	}
	seen := map[string]bool{}
	for _, s := range list {
		n := &node{id: s.ID, name: nodeName(s)}
		if seen[n.name] {
			n.name += "-" + s.ID[:6]
		}
		seen[n.name] = true
		n.dir = filepath.Join(control.RunDir(c.id), n.name)
		info, err := c.cli.ContainerInspect(ctx, s.ID)
		if err != nil {
			return fmt.Errorf("docker: inspecting %s: %w", s.ID[:12], err)
		}
		if info.State == nil || !info.State.Running {
			return fmt.Errorf("docker: container %s is not running: start it first (faultline does not start a user's containers before a run)", strings.TrimPrefix(info.Name, "/"))
		}
		// Measured on engine 20.10: a container killed through the engine
		// (docker kill, as service=container kills) counts as stopped by
		// hand and stays down whatever its policy; one whose first process
		// dies otherwise is started again by always, unless-stopped and
		// on-failure alike.
		if p := info.HostConfig.RestartPolicy.Name; p != "" && p != "no" {
			warnf(cfg, "docker: container %s has restart policy %q: the engine starts it again by itself when its first process dies of a kill that is not the engine's own, "+
				"so such a kill lasts only until then (a kill through the engine, target option service=container, stays)", strings.TrimPrefix(info.Name, "/"), p)
		}
		if err := c.inspect(ctx, n); err != nil {
			return err
		}
		c.nodes = append(c.nodes, n)
	}
	slices.SortFunc(c.nodes, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	if cfg.Logf != nil {
		var s []string
		for _, n := range c.nodes {
			s = append(s, n.name+"="+n.cname+"@"+n.addr.String())
		}
		cfg.Logf("docker: attached to %s", strings.Join(s, " "))
	}
	return nil
}

// warnf says something the user should know both in the run's log and
// to the person watching (cfg.Progress), as the run's own warnings are.
func warnf(cfg control.Config, format string, args ...any) {
	if cfg.Logf != nil {
		cfg.Logf("warning: "+format, args...)
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "warning: "+format+"\n", args...)
	}
}

func describeSelection(o options.Values) string {
	var s []string
	for _, k := range []string{"project", "label", "containers"} {
		if v := o.Get(k); v != "" {
			s = append(s, k+"="+v)
		}
	}
	return strings.Join(s, ", ")
}

// nodeName is a user's container's name as a node: its Compose service
// (numbered when the service has several containers), else its name.
func nodeName(s container.Summary) string {
	if svc := s.Labels["com.docker.compose.service"]; svc != "" {
		if n := s.Labels["com.docker.compose.container-number"]; n != "" && n != "1" {
			return svc + "-" + n
		}
		return svc
	}
	if len(s.Names) > 0 {
		return strings.TrimPrefix(s.Names[0], "/")
	}
	return s.ID[:12]
}

// locator is what a Ref records of a node.
type locator struct {
	Container string `json:"container"`
	Name      string `json:"name"`
	Network   string `json:"network"`
	Created   bool   `json:"created"`
	// Aliases are the container's aliases on Network, given back when it
	// is connected again after an unplug.
	Aliases []string `json:"aliases,omitempty"`
}

// Ref implements control.Cluster.
func (c *Cluster) Ref() control.Ref {
	r := control.Ref{Backend: BackendName, RunID: c.id, Options: map[string]string{"pause": c.pause}}
	for _, n := range c.nodes {
		loc, _ := json.Marshal(locator{Container: n.id, Name: n.cname, Network: n.netID, Created: n.created, Aliases: n.aliases})
		r.Nodes = append(r.Nodes, control.NodeRef{Name: n.name, Addr: n.addr.String(), Dir: n.dir, Binary: c.Binary(n.name), Locator: loc})
	}
	return r
}

// Attach implements control.Backend.Attach: the containers of ref, by
// id. A created cluster whose containers are all gone has gone.
func Attach(ctx context.Context, ref control.Ref, cfg control.Config) (control.Cluster, error) {
	cli, err := images.NewClient()
	if err != nil {
		return nil, err
	}
	c, err := newCluster(cli, ref.RunID, cfg.Options)
	if err != nil {
		return nil, err
	}
	c.pause = ref.Options["pause"]
	missing := 0
	for _, nr := range ref.Nodes {
		var loc locator
		if err := json.Unmarshal(nr.Locator, &loc); err != nil {
			return nil, fmt.Errorf("docker: node %s: bad locator: %w", nr.Name, err)
		}
		n := &node{name: nr.Name, id: loc.Container, cname: loc.Name, netID: loc.Network, dir: nr.Dir, created: loc.Created, aliases: loc.Aliases}
		n.addr, _ = netip.ParseAddr(nr.Addr)
		c.attached = c.attached || !loc.Created
		if loc.Created {
			c.netID = loc.Network // the run's own network
		}
		if _, err := cli.ContainerInspect(ctx, n.id); cerrdefs.IsNotFound(err) {
			missing++
		} else if err != nil {
			return nil, fmt.Errorf("docker: container %s: %w", n.cname, err)
		}
		c.nodes = append(c.nodes, n)
	}
	if missing == len(ref.Nodes) && !c.attached {
		return nil, fmt.Errorf("%w: no container of run %s is left", control.ErrGone, ref.RunID)
	}
	return c, nil
}

// Backend implements control.Cluster.
func (c *Cluster) Backend() string { return BackendName }

// RunID implements control.Cluster.
func (c *Cluster) RunID() string { return c.id }

// Nodes implements control.Cluster.
func (c *Cluster) Nodes() []control.Node {
	out := make([]control.Node, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = control.Node{Name: n.name, Addr: n.addr}
	}
	return out
}

func (c *Cluster) node(name string) (*node, error) {
	for _, n := range c.nodes {
		if n.name == name {
			return n, nil
		}
	}
	return nil, &control.NodeError{Backend: BackendName, Node: name}
}

func (c *Cluster) checkNode(name string) error {
	_, err := c.node(name)
	return err
}

// NodeDir implements control.Cluster: a directory on the host, bind-mounted
// into a created container at the same path.
func (c *Cluster) NodeDir(name string) string {
	if n, err := c.node(name); err == nil {
		return n.dir
	}
	return ""
}

// Binary implements control.Cluster: faultline's binary inside a created
// container (images put it at /faultline). Agent commands run the host's.
func (c *Cluster) Binary(name string) string { return "/faultline" }

// Teardown implements control.Cluster: a created cluster's containers and
// network are removed; a user's containers are left as they are.
func (c *Cluster) Teardown(ctx context.Context) error {
	c.mu.Lock()
	if c.torn {
		c.mu.Unlock()
		return nil
	}
	c.torn = true
	c.mu.Unlock()
	c.stop()
	var errs []error
	for _, n := range c.nodes {
		if !n.created || n.id == "" {
			continue
		}
		if err := c.cli.ContainerRemove(ctx, n.id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: removing %s: %w", n.cname, err))
		}
	}
	if c.netID != "" && !c.attached {
		if err := c.cli.NetworkRemove(ctx, c.netID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: removing network fl-%s: %w", c.id, err))
		}
	}
	// What it made under control.Home: the agents' directories of attached
	// containers, node directories of a run without a store.
	if _, err := control.RemoveRunDir(c.id); err != nil {
		errs = append(errs, err)
	}
	c.cli.Close()
	return errors.Join(errs...)
}
