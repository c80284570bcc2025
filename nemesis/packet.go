package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Ways to delay packets.
const (
	DelayAuto    = ""        // netem where the kernel has it, else nfqueue
	DelayNetem   = "netem"   // tc netem on the node's device
	DelayNfqueue = "nfqueue" // faultline's NFQUEUE delayer (local backend)
)

// PacketArgs are the arguments of a packet fault: on each chosen node,
// packets it sends to the other nodes (not to the controller) are lost,
// rate-limited and delayed, as netem on the node's egress would. Zero
// fields leave that part out; all zero means a random mix.
type PacketArgs struct {
	Nodes Selector
	// Loss is the probability in [0, 1) that a packet is dropped (iptables
	// statistic match).
	Loss float64
	// Rate limits the bytes per second to each peer (iptables hashlimit);
	// excess packets are dropped.
	Rate int64
	// Delay holds each packet for Delay ± Jitter (uniform).
	Delay, Jitter time.Duration
	// DelayMethod is DelayAuto, DelayNetem or DelayNfqueue.
	DelayMethod string

	_ struct{}
}

// Fault implements Args.
func (PacketArgs) Fault() string { return "packet" }

type packetAction struct {
	Nodes  []string      `json:"nodes"`
	Loss   float64       `json:"loss,omitempty"`
	Rate   int64         `json:"rate,omitempty"`
	Delay  time.Duration `json:"delay,omitempty"`
	Jitter time.Duration `json:"jitter,omitempty"`
	Method string        `json:"method,omitempty"`
	Seed   uint64        `json:"seed"`
	Refs   []NodeRef     `json:"refs"`
	// Devs are the devices that carry netem, by node.
	Devs map[string]string `json:"devs,omitempty"`

	peers map[string][]string // node -> other nodes' addresses

	mu       sync.Mutex
	delayers map[string]*delayer
	qdiscs   map[string]bool // nodes where netem was (maybe) added
}

func (a *packetAction) Value() any {
	v := map[string]any{"nodes": stringsValue(a.Nodes)}
	if a.Loss > 0 {
		v["loss"] = a.Loss
	}
	if a.Rate > 0 {
		v["rate"] = a.Rate
	}
	if a.Delay > 0 || a.Jitter > 0 {
		v["delay"] = a.Delay.String()
		v["jitter"] = a.Jitter.String()
		v["method"] = a.Method
	}
	return v
}

func (a *packetAction) Residue() Residue {
	var r Residue
	for _, n := range a.Refs {
		r.Chains = append(r.Chains, ChainRef{NodeRef: n, Chain: packetChain})
		if a.Method == DelayNetem {
			r.Qdiscs = append(r.Qdiscs, QdiscRef{NodeRef: n, Dev: a.Devs[n.Node]})
		}
	}
	return r
}

type packetFault struct{ env *Env }

func newPacket(env *Env) Fault { return &packetFault{env: env} }

func (p *packetFault) Name() string { return "packet" }

func (p *packetFault) firewall(node string) firewall {
	return firewall{node: node, run: clusterRunner(p.env.Cluster, node)}
}

func (p *packetFault) Setup(ctx context.Context) error {
	return forNodes(p.env.nodeNames(), func(n string) error {
		return p.firewall(n).ensure(ctx, packetChain, false)
	})
}

// randomPacket picks one of loss, delay or rate with a random size.
func randomPacket(rng *rand.Rand, a *PacketArgs) {
	switch rng.IntN(3) {
	case 0:
		a.Loss = math.Round(50+450*rng.Float64()) / 1000
	case 1:
		a.Delay = time.Duration(10+rng.IntN(191)) * time.Millisecond
		a.Jitter = time.Duration(rng.Int64N(int64(a.Delay)/2 + 1)).Round(time.Millisecond)
	case 2:
		a.Rate = int64(32+rng.IntN(993)) << 10
	}
}

func (p *packetFault) Plan(ctx context.Context, args Args, rng *rand.Rand) (Action, error) {
	pa, ok := args.(PacketArgs)
	if !ok {
		return nil, fmt.Errorf("want PacketArgs, got %T", args)
	}
	if pa.Loss == 0 && pa.Rate == 0 && pa.Delay == 0 && pa.Jitter == 0 {
		randomPacket(rng, &pa)
	}
	switch {
	case pa.Loss < 0 || pa.Loss >= 1:
		return nil, fmt.Errorf("loss %v: want a probability in [0, 1)", pa.Loss)
	case pa.Rate < 0:
		return nil, fmt.Errorf("rate %d: want bytes per second ≥ 0", pa.Rate)
	case pa.Delay < 0 || pa.Jitter < 0:
		return nil, fmt.Errorf("delay %v ± %v: want durations ≥ 0", pa.Delay, pa.Jitter)
	case pa.DelayMethod != DelayAuto && pa.DelayMethod != DelayNetem && pa.DelayMethod != DelayNfqueue:
		return nil, fmt.Errorf("delay method %q: want netem or nfqueue", pa.DelayMethod)
	}
	nodes, err := pa.Nodes.Resolve(ctx, p.env.nodeNames(), p.env.DB, rng)
	if err != nil {
		return nil, err
	}
	a := &packetAction{Nodes: nodes, Loss: pa.Loss, Rate: pa.Rate, Delay: pa.Delay, Jitter: pa.Jitter, Seed: rng.Uint64(),
		peers: map[string][]string{}, delayers: map[string]*delayer{}, qdiscs: map[string]bool{}}
	if a.Delay > 0 || a.Jitter > 0 {
		a.Method = pa.DelayMethod
		if a.Method == DelayAuto {
			a.Method = p.delayMethod(ctx, nodes[0])
		}
		if _, ok := p.env.Cluster.(namespacer); a.Method == DelayNfqueue && !ok {
			return nil, fmt.Errorf("delay: no netem on %s, and the %T backend has no namespace for the NFQUEUE delayer", nodes[0], p.env.Cluster)
		}
	}
	for _, n := range nodes {
		a.Refs = append(a.Refs, nodeRef(p.env.Cluster, n))
		for _, o := range p.env.Cluster.Nodes() {
			if o.Name != n {
				a.peers[n] = append(a.peers[n], o.Addr.String())
			}
		}
		if len(a.peers[n]) == 0 {
			return nil, fmt.Errorf("node %s has no peers to lose, limit or delay packets to", n)
		}
		if a.Method == DelayNetem {
			if a.Devs == nil {
				a.Devs = map[string]string{}
			}
			out, err := clusterRunner(p.env.Cluster, n)(ctx, "ip", "-o", "route", "get", a.peers[n][0])
			if err != nil {
				return nil, fmt.Errorf("netem on %s: finding the device to the peers: %w", n, err)
			}
			if a.Devs[n] = routeDev(string(out)); a.Devs[n] == "" {
				return nil, fmt.Errorf("netem on %s: no device in %q", n, out)
			}
		}
	}
	return a, nil
}

// delayMethod probes node for netem: adding a netem qdisc to a dummy
// qdisc-less place is not possible, so it asks tc to parse a netem qdisc
// on the loopback device and deletes it straight away.
func (p *packetFault) delayMethod(ctx context.Context, node string) string {
	run := clusterRunner(p.env.Cluster, node)
	if _, err := run(ctx, "tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "netem", "delay", "1ms"); err != nil {
		return DelayNfqueue
	}
	_, _ = run(ctx, "tc", "qdisc", "del", "dev", "lo", "root")
	return DelayNetem
}

func (p *packetFault) Inject(ctx context.Context, act Action) error {
	a := act.(*packetAction)
	return forNodes(a.Nodes, func(n string) error {
		fw := p.firewall(n)
		peers := strings.Join(a.peers[n], ",")
		if a.Loss > 0 {
			prob := strconv.FormatFloat(a.Loss, 'f', -1, 64)
			if err := fw.add(ctx, packetChain, "-d", peers, "-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP"); err != nil {
				return err
			}
		}
		if a.Rate > 0 {
			kb := strconv.FormatInt(max(1, (a.Rate+1023)/1024), 10) + "kb"
			// hashlimit wants a burst of at least 64 KiB in byte mode.
			burst := strconv.FormatInt(max(64, (a.Rate+1023)/1024), 10) + "kb"
			if err := fw.add(ctx, packetChain, "-d", peers, "-m", "hashlimit", "--hashlimit-above", kb+"/s", "--hashlimit-burst", burst,
				"--hashlimit-mode", "dstip", "--hashlimit-name", "faultline", "-j", "DROP"); err != nil {
				return err
			}
		}
		if a.Delay > 0 || a.Jitter > 0 {
			switch a.Method {
			case DelayNetem:
				return p.netem(ctx, a, n)
			default:
				return p.nfqueue(ctx, a, n, fw, peers)
			}
		}
		return nil
	})
}

func (p *packetFault) nfqueue(ctx context.Context, a *packetAction, node string, fw firewall, peers string) error {
	ns, err := p.env.Cluster.(namespacer).Namespace(node)
	if err != nil {
		return err
	}
	d, err := startDelayer(ns, a.Delay, a.Jitter, a.Seed^uint64(len(node))<<32^hashString(node))
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.delayers[node] = d
	a.mu.Unlock()
	return fw.add(ctx, packetChain, "-d", peers, "-j", "NFQUEUE", "--queue-num", strconv.Itoa(delayQueue), "--queue-bypass")
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// netem delays what node sends to its peers: a prio qdisc with a fourth
// band that only faultline's filters (one per peer) lead to, and netem on
// that band.
func (p *packetFault) netem(ctx context.Context, a *packetAction, node string) error {
	run := clusterRunner(p.env.Cluster, node)
	dev := a.Devs[node]
	a.mu.Lock()
	a.qdiscs[node] = true
	a.mu.Unlock()
	steps := [][]string{
		{"qdisc", "add", "dev", dev, "root", "handle", "1:", "prio", "bands", "4", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"},
		{"qdisc", "add", "dev", dev, "parent", "1:4", "handle", "40:", "netem", "delay", durMs(a.Delay), durMs(a.Jitter)},
	}
	for _, peer := range a.peers[node] {
		steps = append(steps, []string{"filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", peer + "/32", "flowid", "1:4"})
	}
	for _, s := range steps {
		if _, err := run(ctx, "tc", s...); err != nil {
			return fmt.Errorf("netem on %s: %w", node, err)
		}
	}
	return nil
}

func durMs(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + "ms"
}

// routeDev finds "dev X" in `ip -o route get` output.
func routeDev(out string) string {
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			return f[i+1]
		}
	}
	return ""
}

func (p *packetFault) Recover(ctx context.Context, act Action) error {
	a := act.(*packetAction)
	return forNodes(a.Nodes, func(n string) error {
		// Rules first, so nothing new is queued; then the delayer lets go
		// of what it holds.
		var errs []error
		if err := p.firewall(n).flush(ctx, packetChain); err != nil {
			errs = append(errs, err)
		}
		a.mu.Lock()
		d, netem := a.delayers[n], a.qdiscs[n]
		delete(a.delayers, n)
		delete(a.qdiscs, n)
		a.mu.Unlock()
		if d != nil {
			d.stop()
			p.env.logf("nemesis: delayer on %s held %d packets", n, d.queued.Load())
		}
		if netem {
			if _, err := delQdisc(ctx, clusterRunner(p.env.Cluster, n), a.Devs[n]); err != nil {
				errs = append(errs, fmt.Errorf("removing netem on %s: %w", n, err))
			}
		}
		return errors.Join(errs...)
	})
}

// delQdisc removes the root qdisc of dev if it is faultline's (a prio with
// netem at 40:), and reports whether it did.
func delQdisc(ctx context.Context, run runner, dev string) (bool, error) {
	out, err := run(ctx, "tc", "qdisc", "show", "dev", dev)
	if errors.Is(err, exec.ErrNotFound) {
		return false, nil // no tc, so no netem of ours
	}
	if err != nil {
		return false, err
	}
	if !strings.Contains(string(out), "qdisc netem 40:") {
		return false, nil
	}
	if _, err := run(ctx, "tc", "qdisc", "del", "dev", dev, "root"); err != nil {
		return false, err
	}
	return true, nil
}

func (p *packetFault) Cleanup(ctx context.Context) error {
	return forNodes(p.env.nodeNames(), func(n string) error {
		return p.firewall(n).remove(ctx, packetChain)
	})
}
