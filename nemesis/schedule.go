package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/targets"
)

// DefaultInterval is the time between a schedule's fault changes.
const DefaultInterval = 10 * time.Second

// recoverTimeout bounds a recovery that runs after the schedule's context
// has ended.
const recoverTimeout = time.Minute

// Config is what a controller gives a Schedule.
type Config struct {
	// Cluster reaches the nodes; Agents is the session with their agents;
	// DB is the target (needed by kill, pause and clock).
	Cluster control.Cluster
	Agents  *agent.Pool
	DB      targets.DB
	// Record appends an op to the history (histories.Recorder.Record).
	Record func(histories.Op) (histories.Op, error)
	// JournalPath is the journal, normally <run dir>/JournalFile. Required.
	JournalPath string
	// Faults are the faults to inject, each a registry name with optional
	// parameters (FaultSpec), e.g. partition, kill:one, packet:loss=0.2.
	// Every entry is injected once before any is injected again.
	Faults []string
	// Interval is the time between fault changes (DefaultInterval if 0).
	Interval time.Duration
	// Seed makes the sequence of faults and their arguments repeatable.
	Seed int64
	// Overlap gives each fault its own timeline, so that faults overlap
	// (a partition while a node is paused), as Jepsen's combined nemesis
	// does; otherwise one fault is in effect at a time.
	Overlap bool
	// Logf, if set, receives a line per fault change.
	Logf func(format string, args ...any)

	_ struct{}
}

// Schedule alternates, every Interval, injecting a fault drawn at random
// from its set (with random arguments) and recovering it. Every start and
// stop is a nemesis op in the history (f "start-<fault>" and
// "stop-<fault>", type info, value what was done); the clock fault adds a
// "check-offsets" op with each node's offset in seconds.
type Schedule struct {
	cfg     Config
	specs   []FaultSpec
	env     *Env
	journal *Journal
	failers map[string]*Failer

	mu      sync.Mutex // held while a fault changes
	closed  bool
	current map[string]string // what is in effect, by fault, for the progress line

	curMu sync.Mutex
}

// NewSchedule checks cfg and opens the journal.
func NewSchedule(cfg Config) (*Schedule, error) {
	if cfg.Cluster == nil || cfg.Agents == nil {
		return nil, errors.New("nemesis schedule: no cluster or no agents")
	}
	if cfg.Record == nil {
		return nil, errors.New("nemesis schedule: no history to record to")
	}
	if cfg.JournalPath == "" {
		return nil, errors.New("nemesis schedule: no journal path")
	}
	if len(cfg.Faults) == 0 {
		return nil, errors.New("nemesis schedule: no faults to schedule")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("nemesis schedule: interval %v must be positive", cfg.Interval)
	}
	env := &Env{Cluster: cfg.Cluster, Agents: cfg.Agents, DB: cfg.DB, Logf: cfg.Logf}
	s := &Schedule{cfg: cfg, env: env, failers: map[string]*Failer{}}
	specs, err := ParseFaultSpecs(cfg.Faults)
	if err != nil {
		return nil, fmt.Errorf("nemesis schedule: %w", err)
	}
	nodes := control.NodeNames(cfg.Cluster)
	var faults []string
	for _, fs := range specs {
		spec, _ := Lookup(fs.Name)
		if spec.NeedsTarget && cfg.DB == nil {
			return nil, fmt.Errorf("nemesis schedule: %s needs a target", fs.Name)
		}
		for _, n := range fs.NamedNodes() {
			if !slices.Contains(nodes, n) {
				return nil, fmt.Errorf("nemesis schedule: fault %q names node %q, and the cluster's nodes are %s", fs, n, strings.Join(nodes, ", "))
			}
		}
		if s.failers[fs.Name] == nil {
			s.failers[fs.Name] = NewFailer(spec.New(env), nil)
			faults = append(faults, fs.Name)
		}
	}
	s.cfg.Faults = faults
	s.specs = specs
	ref := cfg.Cluster.Ref()
	j, err := OpenJournal(cfg.JournalPath, &ref, cfg.Agents.Session())
	if err != nil {
		return nil, err
	}
	s.journal = j
	for _, f := range s.failers {
		f.journal = j
	}
	return s, nil
}

// Current describes the fault in effect, e.g. "partition n1:n2,n3 …", or
// is empty.
func (s *Schedule) Current() string {
	s.curMu.Lock()
	defer s.curMu.Unlock()
	var out []string
	for _, f := range s.cfg.Faults {
		if c := s.current[f]; c != "" {
			out = append(out, c)
		}
	}
	return strings.Join(out, "; ")
}

func (s *Schedule) setCurrent(name, c string) {
	s.curMu.Lock()
	if s.current == nil {
		s.current = map[string]string{}
	}
	s.current[name] = c
	s.curMu.Unlock()
}

func (s *Schedule) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Schedule) logf(format string, args ...any) { s.env.logf(format, args...) }

// Run injects and recovers faults until ctx ends, then recovers whatever
// is active and returns nil. It returns early with an error if recovering
// a fault fails (the fault stays active for HealAll), if the history
// cannot be written, or if three injections in a row fail.
func (s *Schedule) Run(ctx context.Context) error {
	names, by := specsByFault(s.specs)
	if !s.cfg.Overlap || len(names) == 1 {
		return s.runLane(ctx, &lane{specs: s.specs, rng: newRNG(s.cfg.Seed)}, 0)
	}
	// One timeline per fault, started a fraction of the interval apart,
	// each with its own source so the faults each draws stay repeatable.
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, f := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s.cfg.Seed), 0x6661756c746c696e^uint64(i+1)))
			offset := s.cfg.Interval * time.Duration(i) / time.Duration(len(names))
			errs[i] = s.runLane(ctx, &lane{specs: by[f], rng: rng}, offset)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// lane is one timeline of faults: it injects its specs in rounds, each
// round every spec once in a random order, so that a short run does not
// draw one fault again and again while another never comes.
type lane struct {
	specs []FaultSpec
	rng   *rand.Rand
	order []int
	step  uint64
}

// next draws the next fault and its arguments. The lane's source draws
// first, so that the sequence of faults does not depend on how many draws
// each plan makes; the plan then draws from srng.
func (l *lane) next() (spec FaultSpec, args Args, srng *rand.Rand) {
	if len(l.order) == 0 {
		l.order = l.rng.Perm(len(l.specs))
	}
	spec = l.specs[l.order[0]]
	l.order = l.order[1:]
	srng = rand.New(rand.NewPCG(l.rng.Uint64(), l.step))
	l.step++
	return spec, spec.Args(srng), srng
}

func (l *lane) names() string {
	var out []string
	for _, s := range l.specs {
		if !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	return strings.Join(out, " or ")
}

// runLane alternates, every Interval (after offset), injecting the lane's
// next fault and recovering it.
func (s *Schedule) runLane(ctx context.Context, l *lane, offset time.Duration) error {
	failures := 0
	if offset > 0 && !sleep(ctx, offset) {
		return nil
	}
	for {
		if s.isClosed() || !sleep(ctx, s.cfg.Interval) {
			return nil
		}
		spec, args, srng := l.next()
		name := spec.Name
		injected, err := s.inject(ctx, name, args, srng)
		if err != nil {
			return err
		}
		if !injected {
			if ctx.Err() != nil || s.isClosed() {
				return nil
			}
			if failures++; failures >= 3 {
				return fmt.Errorf("nemesis schedule: three injections of %s in a row failed (see the history's nemesis ops)", l.names())
			}
			continue
		}
		failures = 0
		sleep(ctx, s.cfg.Interval)
		if err := s.recover(ctx, name); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// newRNG is the schedule's own source of randomness for seed.
func newRNG(seed int64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0x6661756c746c696e)) }

// inject injects one fault and records it. A failed injection is recorded
// and reported as not injected; only a failure to record is an error.
func (s *Schedule) inject(ctx context.Context, name string, args Args, rng *rand.Rand) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, nil
	}
	a, err := s.failers[name].Inject(ctx, args, rng)
	if err != nil {
		s.logf("nemesis: start-%s failed: %v", name, err)
		_, rerr := s.record("start-"+name, nil, err)
		return false, rerr
	}
	s.setCurrent(name, name+" "+histories.FormatValue(a.Value()))
	s.logf("nemesis: start-%s %s", name, histories.FormatValue(a.Value()))
	if _, err := s.record("start-"+name, a.Value(), nil); err != nil {
		return true, err
	}
	if name == "clock" {
		return true, s.checkOffsets(ctx)
	}
	return true, nil
}

// recover recovers fault name if active, with a fresh context if ctx has
// ended, and records it.
func (s *Schedule) recover(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recoverLocked(ctx, name)
}

func (s *Schedule) recoverLocked(ctx context.Context, name string) error {
	fl := s.failers[name]
	a := fl.Action()
	if a == nil {
		return nil
	}
	// Recovery runs on a context the end of the run cannot cancel: a time
	// limit that falls while a fault is being healed must not leave it in
	// effect.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recoverTimeout)
	defer cancel()
	if err := fl.Recover(ctx); err != nil {
		s.logf("nemesis: stop-%s failed: %v", name, err)
		_, _ = s.record("stop-"+name, a.Value(), err)
		return fmt.Errorf("nemesis schedule: %w", err)
	}
	s.setCurrent(name, "")
	s.logf("nemesis: stop-%s", name)
	if _, err := s.record("stop-"+name, a.Value(), nil); err != nil {
		return err
	}
	if name == "clock" {
		return s.checkOffsets(ctx)
	}
	return nil
}

func (s *Schedule) checkOffsets(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	offs, err := CheckOffsets(ctx, s.env, s.env.nodeNames())
	var v any
	if err == nil {
		v = offsetsValue(offs)
	}
	_, rerr := s.record("check-offsets", v, err)
	return rerr
}

func (s *Schedule) record(f string, value any, err error) (histories.Op, error) {
	op := histories.Op{Process: histories.Nemesis, Type: histories.Info, F: f, Value: value}
	if err != nil {
		op.Error = err.Error()
	}
	op, rerr := s.cfg.Record(op)
	if rerr != nil {
		return op, fmt.Errorf("nemesis schedule: %w %s: %w", errRecord, f, rerr)
	}
	return op, nil
}

// HealAll recovers every active fault (recording each stop if the history
// still takes ops), removes faultline's chains from the nodes, and closes
// the journal; after it the schedule injects nothing. Call it from a defer
// in the controller, so that it runs on every way out: normal end, error,
// Ctrl-C, panic. It is safe to call more than once and concurrently with
// Run.
func (s *Schedule) HealAll(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Called on the way out after Ctrl-C or a timeout too: healing must
	// not be cut short by the context that ended the test.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recoverTimeout)
	defer cancel()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range s.failers {
			if !yield(n) {
				return
			}
		}
	})
	var errs []error
	for _, n := range names {
		// The history may be closed by now; the journal still knows.
		if err := s.recoverLocked(ctx, n); err != nil && !errors.Is(err, errRecord) {
			errs = append(errs, err)
		}
	}
	for _, n := range names {
		if err := s.failers[n].Cleanup(ctx); err != nil {
			errs = append(errs, fmt.Errorf("nemesis: %w", err))
		}
	}
	if len(errs) == 0 {
		if err := s.journal.Close(); err != nil {
			errs = append(errs, err)
		}
	} else {
		// Leave the journal open (and the schedule retryable) so that the
		// record of what is still in effect stays right.
		s.closed = false
	}
	return errors.Join(errs...)
}

var errRecord = errors.New("recording")

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
