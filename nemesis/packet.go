package nemesis

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/faultline-dev/faultline/agent"
)

// Ways to delay packets.
const (
	DelayAuto    = ""                 // netem where the kernel has it, else nfqueue
	DelayNetem   = agent.DelayNetem   // tc netem on the node's device
	DelayNfqueue = agent.DelayNfqueue // the NFQUEUE delayer inside the node's agent
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

	peers map[string][]string // node -> other nodes' addresses
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

func (a *packetAction) Residue() Residue { return Residue{Nodes: a.Nodes} }

// packetFault is Jepsen's net/shape!: each chosen node's agent loses,
// rate-limits or delays what the node sends to the other nodes.
type packetFault struct{ env *Env }

func newPacket(env *Env) Fault { return &packetFault{env: env} }

func (p *packetFault) Name() string { return "packet" }

func (p *packetFault) Setup(ctx context.Context) error {
	return forNodes(p.env.nodeNames(), func(n string) error {
		return p.env.Agents.Setup(ctx, n, agent.PacketChain)
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
	a := &packetAction{Nodes: nodes, Loss: pa.Loss, Rate: pa.Rate, Delay: pa.Delay, Jitter: pa.Jitter, Seed: rng.Uint64(), peers: map[string][]string{}}
	if a.Delay > 0 || a.Jitter > 0 {
		a.Method = pa.DelayMethod
		if a.Method == DelayAuto {
			// netem where every chosen node has it, else the agent's
			// NFQUEUE delayer.
			a.Method = DelayNetem
			for _, n := range nodes {
				f, err := p.env.Agents.Probe(ctx, n)
				if err != nil {
					return nil, err
				}
				if !f.Netem || !f.Tc {
					a.Method = DelayNfqueue
				}
			}
		}
	}
	for _, n := range nodes {
		for _, o := range p.env.Cluster.Nodes() {
			if o.Name != n {
				a.peers[n] = append(a.peers[n], o.Addr.String())
			}
		}
		if len(a.peers[n]) == 0 {
			return nil, fmt.Errorf("node %s has no peers to lose, limit or delay packets to", n)
		}
	}
	return a, nil
}

func (p *packetFault) Inject(ctx context.Context, id int64, act Action) error {
	a := act.(*packetAction)
	return forNodes(a.Nodes, func(n string) error {
		_, err := p.env.Agents.Apply(ctx, n, id, agent.Action{Kind: agent.KindPacket, Peers: a.peers[n],
			Loss: a.Loss, Rate: a.Rate, Delay: a.Delay, Jitter: a.Jitter, Method: a.Method, Seed: a.Seed ^ hashString(n)})
		return err
	})
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

func (p *packetFault) Recover(ctx context.Context, id int64, act Action) error {
	return recoverAll(ctx, p.env, act.(*packetAction).Nodes, id)
}

func (p *packetFault) Cleanup(ctx context.Context) error {
	return forNodes(p.env.nodeNames(), func(n string) error {
		return p.env.Agents.Cleanup(ctx, n, agent.PacketChain)
	})
}
