package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/agent"
	clockskew "github.com/faultline-dev/faultline/nemesis/clock"
)

// ClockMode is what a clock fault does.
type ClockMode string

// The clock faults.
const (
	// ClockBump shifts the nodes' clocks by Offset until recovered.
	ClockBump ClockMode = "bump"
	// ClockStrobe flips the nodes' clocks between +Offset and the real time
	// every Period until recovered.
	ClockStrobe ClockMode = "strobe"
	// ClockReset puts the nodes' clocks back to the real time (an ad hoc
	// repair; recovering it does nothing).
	ClockReset ClockMode = "reset"
)

// ClockArgs are the arguments of a clock fault. It skews the target's
// processes on each chosen node (their vDSO, see nemesis/clock); the
// nodes' clocks and every other process are untouched.
type ClockArgs struct {
	// Mode is bump, strobe or reset; empty means bump or strobe at random.
	Mode ClockMode
	// Offset is the bump, or the strobe's amplitude; 0 means random, from
	// milliseconds to minutes either way.
	Offset time.Duration
	// Period is the strobe's flip period; 0 means random, 10 ms to 1 s.
	Period time.Duration
	// Nodes are the nodes whose clocks change.
	Nodes Selector

	_ struct{}
}

// Fault implements Args.
func (ClockArgs) Fault() string { return "clock" }

type clockAction struct {
	Mode   ClockMode     `json:"mode"`
	Offset time.Duration `json:"offset"`
	Period time.Duration `json:"period,omitempty"`
	Nodes  []string      `json:"nodes"`
}

func (a *clockAction) Value() any {
	v := map[string]any{"mode": string(a.Mode), "nodes": stringsValue(a.Nodes)}
	if a.Mode != ClockReset {
		v["offset"] = a.Offset.String()
	}
	if a.Mode == ClockStrobe {
		v["period"] = a.Period.String()
	}
	return v
}

func (a *clockAction) Residue() Residue { return Residue{Nodes: a.Nodes} }

// clockFault skews the clocks of the target's processes on each chosen
// node: the node's agent patches their vDSO (nemesis/clock) and, for a
// strobe, flips it on and off until recovered.
type clockFault struct{ env *Env }

func newClock(env *Env) Fault { return &clockFault{env: env} }

func (c *clockFault) Name() string { return "clock" }

func (c *clockFault) Setup(ctx context.Context) error {
	if c.env.DB == nil {
		return errors.New("no target whose clocks to skew")
	}
	return nil
}

// randomOffset is log-uniform from 1 ms to 10 min, either sign.
func randomOffset(rng *rand.Rand) time.Duration {
	ms := math.Pow(10, rng.Float64()*math.Log10(600_000))
	d := time.Duration(ms * float64(time.Millisecond)).Round(time.Millisecond)
	if rng.IntN(2) == 0 {
		d = -d
	}
	return d
}

func (c *clockFault) Plan(ctx context.Context, args Args, rng *rand.Rand) (Action, error) {
	ca, ok := args.(ClockArgs)
	if !ok {
		return nil, fmt.Errorf("want ClockArgs, got %T", args)
	}
	a := &clockAction{Mode: ca.Mode, Offset: ca.Offset, Period: ca.Period}
	if a.Mode == "" {
		a.Mode = []ClockMode{ClockBump, ClockStrobe}[rng.IntN(2)]
	}
	switch a.Mode {
	case ClockBump, ClockStrobe:
		if a.Offset == 0 {
			a.Offset = randomOffset(rng)
		}
		if a.Mode == ClockStrobe && a.Period <= 0 {
			a.Period = time.Duration(10+rng.IntN(991)) * time.Millisecond
		}
		if a.Mode == ClockBump {
			a.Period = 0
		}
	case ClockReset:
		a.Offset = 0
	default:
		return nil, fmt.Errorf("clock mode %q: want bump, strobe or reset", a.Mode)
	}
	if a.Offset > clockskew.MaxOffset || a.Offset < -clockskew.MaxOffset {
		return nil, fmt.Errorf("clock offset %v: at most ±%v", a.Offset, clockskew.MaxOffset)
	}
	nodes, err := ca.Nodes.Resolve(ctx, c.env.nodeNames(), c.env.DB, rng)
	if err != nil {
		return nil, err
	}
	a.Nodes = nodes
	return a, nil
}

func (c *clockFault) Inject(ctx context.Context, id int64, act Action) error {
	a := act.(*clockAction)
	return forNodes(a.Nodes, func(n string) error {
		roots, err := c.env.DB.Processes(ctx, n)
		if err != nil {
			return err
		}
		if len(roots) == 0 {
			return nil // nothing runs there to skew
		}
		action := agent.Action{Kind: agent.KindSkew, Roots: agent.ProcsOf(roots), Offset: a.Offset, Period: a.Period}
		if a.Mode == ClockReset {
			// A reset is a skew of nothing that, recovered, resets: the
			// agent records the processes and resets them at once.
			action.Offset = 0
		}
		_, err = c.env.Agents.Apply(ctx, n, id, action)
		return err
	})
}

func (c *clockFault) Recover(ctx context.Context, id int64, act Action) error {
	return recoverAll(ctx, c.env, act.(*clockAction).Nodes, id)
}

func (c *clockFault) Cleanup(ctx context.Context) error { return nil }

// CheckOffsets reads each node's clock offset from the target's processes
// there (the skew in effect, as the node's agent reads it back from them),
// 0 for a node whose processes are not skewed. It is the value of the
// history's check-offsets op, in seconds.
func CheckOffsets(ctx context.Context, env *Env, nodes []string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	var mu sync.Mutex
	err := forNodes(nodes, func(n string) error {
		var off time.Duration
		roots, err := env.DB.Processes(ctx, n)
		if err != nil {
			return err
		}
		if len(roots) > 0 {
			if off, err = env.Agents.Offset(ctx, n, agent.ProcsOf(roots)); err != nil {
				return err
			}
		}
		mu.Lock()
		out[n] = off
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// offsetsValue is CheckOffsets as a history value: node → seconds.
func offsetsValue(offs map[string]time.Duration) map[string]any {
	v := make(map[string]any, len(offs))
	for n, d := range offs {
		v[n] = d.Seconds()
	}
	return v
}
