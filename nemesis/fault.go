package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/targets"
)

// Env is what faults act on.
type Env struct {
	// Cluster reaches the nodes: its names, its addresses.
	Cluster control.Cluster
	// Agents is the session with faultline's agent on each node, through
	// which every fault is applied and held.
	Agents *agent.Pool
	// DB is the system under test, for kill, pause and clock (nil: those
	// faults are unavailable).
	DB targets.DB
	// Logf, if set, receives one line per step worth knowing.
	Logf func(format string, args ...any)

	_ struct{}
}

func (e *Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

func (e *Env) nodeNames() []string { return control.NodeNames(e.Cluster) }

// Args are a fault's typed arguments: PartitionArgs, KillArgs, PauseArgs,
// ClockArgs or PacketArgs.
type Args interface {
	// Fault is the name of the fault the arguments are for.
	Fault() string
}

// Action is a fault's arguments resolved against the cluster: exactly what
// Inject will do, so that it can be journaled before it is done and
// recorded in the history after.
type Action interface {
	// Value is what the history records for the action, as a normalised
	// value (map[string]any, []any, string, int64, float64, bool).
	Value() any
	// Residue says where the action acts, for people reading the journal
	// and for heal to report what a dead controller left.
	Residue() Residue
}

// Fault is one kind of failure, in the shape of roachprod's failure
// injection. Use it through a Failer, which enforces the order of calls.
type Fault interface {
	// Name is the fault's registry name, e.g. "partition".
	Name() string
	// Setup prepares the hosts for the fault (e.g. faultline's iptables
	// chains). It is idempotent.
	Setup(ctx context.Context) error
	// Plan resolves args into an Action, drawing any random choice from
	// rng; it changes nothing on the hosts.
	Plan(ctx context.Context, args Args, rng *rand.Rand) (Action, error)
	// Inject applies a as fault id (its journal id; the nodes' agents
	// record it by that id). On error, part of it may be in effect:
	// Recover(id, a) must undo whatever is.
	Inject(ctx context.Context, id int64, a Action) error
	// Recover undoes a. It is idempotent and undoes as much as it can
	// before returning an error.
	Recover(ctx context.Context, id int64, a Action) error
	// Cleanup removes what Setup made.
	Cleanup(ctx context.Context) error
}

// State is where a Failer is in its life.
type State int

// States of a Failer: ready → active → recovered (→ active → recovered …)
// → cleaned up.
const (
	Uninitialized State = iota
	Ready
	Active
	Recovered
	CleanedUp
)

func (s State) String() string {
	switch s {
	case Uninitialized:
		return "uninitialized"
	case Ready:
		return "ready"
	case Active:
		return "active"
	case Recovered:
		return "recovered"
	case CleanedUp:
		return "cleaned up"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// ErrActive is returned by Inject while an earlier injection of the same
// fault is in effect.
var ErrActive = errors.New("fault already active")

// Failer wraps a Fault with the state machine that keeps it from being left
// behind (roachprod's Failer): Inject journals the action before applying
// it, and rolls it back if applying fails; Recover journals the recovery
// after it; Cleanup recovers first. A Failer is safe for concurrent use;
// its calls are serialised.
type Failer struct {
	fault   Fault
	journal *Journal // nil: no journal

	mu     sync.Mutex
	state  State
	action Action // in effect while state is Active
	id     int64  // journal id of action
}

// unjournaled numbers the actions of Failers without a journal, so that
// no two share an id within an agent session.
var unjournaled atomic.Int64

// NewFailer wraps f; j may be nil (no journal).
func NewFailer(f Fault, j *Journal) *Failer {
	return &Failer{fault: f, journal: j}
}

// Fault is the wrapped fault.
func (fl *Failer) Fault() Fault { return fl.fault }

// State is the Failer's current state.
func (fl *Failer) State() State {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.state
}

// Action is the action in effect, or nil.
func (fl *Failer) Action() Action {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.state != Active {
		return nil
	}
	return fl.action
}

// Setup runs the fault's Setup once. Inject calls it when needed.
func (fl *Failer) Setup(ctx context.Context) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.setup(ctx)
}

func (fl *Failer) setup(ctx context.Context) error {
	switch fl.state {
	case Uninitialized, CleanedUp:
	default:
		return nil
	}
	if err := fl.fault.Setup(ctx); err != nil {
		// Setup may have made part of what it makes.
		_ = fl.fault.Cleanup(context.WithoutCancel(ctx))
		return fmt.Errorf("%s: setup: %w", fl.fault.Name(), err)
	}
	fl.state = Ready
	return nil
}

// Inject plans args, journals the action, and applies it. If applying
// fails, it recovers what was applied and returns the error; if that
// recovery fails too, the Failer stays active so that Recover (or HealAll,
// or HealJournal) can try again.
func (fl *Failer) Inject(ctx context.Context, args Args, rng *rand.Rand) (Action, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	name := fl.fault.Name()
	if args.Fault() != name {
		return nil, fmt.Errorf("%s: arguments are for %s", name, args.Fault())
	}
	if fl.state == Active {
		return nil, fmt.Errorf("%s: %w (recover it first)", name, ErrActive)
	}
	if err := fl.setup(ctx); err != nil {
		return nil, err
	}
	a, err := fl.fault.Plan(ctx, args, rng)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var id int64
	if fl.journal != nil {
		if id, err = fl.journal.Inject(name, a); err != nil {
			return nil, fmt.Errorf("%s: not injected: %w", name, err)
		}
	} else {
		id = unjournaled.Add(1)
	}
	// From here on the action counts as active: whatever happens, it is
	// recovered before the Failer lets go of it.
	fl.state, fl.action, fl.id = Active, a, id
	if err := fl.fault.Inject(ctx, id, a); err != nil {
		ierr := fmt.Errorf("%s: inject: %w", name, err)
		if rerr := fl.recover(context.WithoutCancel(ctx)); rerr != nil {
			return nil, errors.Join(ierr, fmt.Errorf("rolling back: %w", rerr))
		}
		return nil, ierr
	}
	return a, nil
}

// Recover undoes the action in effect, if any, and journals that it did.
// On error the Failer stays active.
func (fl *Failer) Recover(ctx context.Context) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.recover(ctx)
}

func (fl *Failer) recover(ctx context.Context) error {
	if fl.state != Active {
		return nil
	}
	if err := fl.fault.Recover(ctx, fl.id, fl.action); err != nil {
		return fmt.Errorf("%s: recover: %w", fl.fault.Name(), err)
	}
	var jerr error
	if fl.journal != nil {
		jerr = fl.journal.Recover(fl.id, fl.fault.Name(), "")
	}
	fl.state, fl.action = Recovered, nil
	return jerr
}

// Cleanup recovers the action in effect, if any, then undoes Setup.
func (fl *Failer) Cleanup(ctx context.Context) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if err := fl.recover(ctx); err != nil {
		return err
	}
	if fl.state == Uninitialized || fl.state == CleanedUp {
		return nil
	}
	if err := fl.fault.Cleanup(ctx); err != nil {
		return fmt.Errorf("%s: cleanup: %w", fl.fault.Name(), err)
	}
	fl.state = CleanedUp
	return nil
}
