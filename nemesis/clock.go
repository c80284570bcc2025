package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/control"
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

// ClockArgs are the arguments of a clock fault. It skews every process in
// each chosen node (their vDSO, see nemesis/clock), so it needs a backend
// that can list a node's processes (control/local).
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
	Procs  []ProcRef     `json:"procs"`

	// strobes run until Recover cancels them.
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
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

func (a *clockAction) Residue() Residue {
	if a.Mode == ClockReset {
		return Residue{}
	}
	return Residue{Skewed: a.Procs}
}

type clockFault struct{ env *Env }

func newClock(env *Env) Fault { return &clockFault{env: env} }

func (c *clockFault) Name() string { return "clock" }

func (c *clockFault) Setup(ctx context.Context) error {
	if _, ok := c.env.Cluster.(processLister); !ok {
		return fmt.Errorf("the %T backend cannot list a node's processes, which clock skew needs", c.env.Cluster)
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
	for _, n := range nodes {
		ps, err := nodeProcs(c.env.Cluster, n)
		if err != nil {
			return nil, err
		}
		a.Procs = append(a.Procs, ps...)
	}
	return a, nil
}

// gone reports errors that mean the process exited: nothing to skew or
// reset any more.
func gone(err error) bool { return errors.Is(err, clockskew.ErrNoProcess) }

func (c *clockFault) Inject(ctx context.Context, act Action) error {
	a := act.(*clockAction)
	var errs []error
	switch a.Mode {
	case ClockBump:
		for _, p := range a.Procs {
			if err := clockskew.Skew(p.Pid, a.Offset, clockskew.Options{}); err != nil && !gone(err) {
				errs = append(errs, fmt.Errorf("skewing %s: %w", p, err))
			}
		}
	case ClockReset:
		for _, p := range a.Procs {
			if err := clockskew.Reset(p.Pid); err != nil && !gone(err) {
				errs = append(errs, fmt.Errorf("resetting the clock of %s: %w", p, err))
			}
		}
	case ClockStrobe:
		// The first phase synchronously, so that the skew is in effect
		// when Inject returns; Strobe then flips it from there.
		for _, p := range a.Procs {
			if err := clockskew.Skew(p.Pid, a.Offset, clockskew.Options{}); err != nil && !gone(err) {
				errs = append(errs, fmt.Errorf("skewing %s: %w", p, err))
			}
		}
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		a.cancel = cancel
		for _, p := range a.Procs {
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				// Strobe resets the clock when it ends.
				err := clockskew.Strobe(sctx, p.Pid, a.Offset, a.Period, 365*24*time.Hour, clockskew.Options{})
				if err != nil && !errors.Is(err, context.Canceled) && !gone(err) {
					a.mu.Lock()
					a.errs = append(a.errs, fmt.Errorf("strobing the clock of %s: %w", p, err))
					a.mu.Unlock()
				}
			}()
		}
	}
	return errors.Join(errs...)
}

func (c *clockFault) Recover(ctx context.Context, act Action) error {
	a := act.(*clockAction)
	var errs []error
	switch a.Mode {
	case ClockStrobe:
		if a.cancel != nil {
			a.cancel()
			a.wg.Wait()
		}
		a.mu.Lock()
		errs, a.errs = a.errs, nil
		a.mu.Unlock()
		fallthrough
	case ClockBump:
		// Reset even after a strobe: a strobe that failed to start left
		// nothing to reset, and resetting a pristine process does nothing.
		for _, p := range a.Procs {
			if _, ok := p.alive(); !ok {
				continue
			}
			if err := clockskew.Reset(p.Pid); err != nil && !gone(err) {
				errs = append(errs, fmt.Errorf("resetting the clock of %s: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (c *clockFault) Cleanup(ctx context.Context) error { return nil }

// CheckOffsets reads each node's clock offset from its processes (the
// skew in effect, as nemesis/clock reads it back from them): the offset of
// the node's first skewed process, or 0. It is the value of the history's
// check-offsets op, in seconds.
func CheckOffsets(cluster control.Cluster, nodes []string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, n := range nodes {
		ps, err := nodeProcs(cluster, n)
		if err != nil {
			return nil, err
		}
		out[n] = 0
		for _, p := range ps {
			off, skewed, err := clockskew.Offset(p.Pid)
			if err == nil && skewed && off != 0 {
				out[n] = off
				break
			}
		}
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
