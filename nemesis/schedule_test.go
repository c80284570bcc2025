package nemesis

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/histories"
)

// stubFault counts calls and checks that the journal holds an action
// before the action is applied.
type stubFault struct {
	t          *testing.T
	journal    string
	failInject bool
	failRecov  bool
	calls      []string
}

type stubAction struct{ N int }

func (a *stubAction) Value() any       { return int64(a.N) }
func (a *stubAction) Residue() Residue { return Residue{} }

func (f *stubFault) Name() string { return "stub" }
func (f *stubFault) Setup(ctx context.Context) error {
	f.calls = append(f.calls, "setup")
	return nil
}
func (f *stubFault) Plan(ctx context.Context, args Args, rng *rand.Rand) (Action, error) {
	return &stubAction{N: rng.IntN(100)}, nil
}
func (f *stubFault) Inject(ctx context.Context, id int64, a Action) error {
	f.calls = append(f.calls, "inject")
	entries, err := ReadJournal(f.journal)
	if err != nil || len(Outstanding(entries)) != 1 {
		f.t.Errorf("inject: the journal does not hold the action yet: %v, %v", entries, err)
	}
	if f.failInject {
		return errors.New("boom")
	}
	return nil
}
func (f *stubFault) Recover(ctx context.Context, id int64, a Action) error {
	f.calls = append(f.calls, "recover")
	if f.failRecov {
		return errors.New("stuck")
	}
	return nil
}
func (f *stubFault) Cleanup(ctx context.Context) error {
	f.calls = append(f.calls, "cleanup")
	return nil
}

type stubArgs struct{}

func (stubArgs) Fault() string { return "stub" }

func TestFailerStateMachine(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), JournalFile)
	j, err := OpenJournal(path, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	f := &stubFault{t: t, journal: path}
	fl := NewFailer(f, j)
	rng := rand.New(rand.NewPCG(1, 2))

	if _, err := fl.Inject(ctx, stubArgs{}, rng); err != nil {
		t.Fatal(err)
	}
	if fl.State() != Active {
		t.Fatalf("state after Inject = %s", fl.State())
	}
	if _, err := fl.Inject(ctx, stubArgs{}, rng); !errors.Is(err, ErrActive) {
		t.Errorf("second Inject = %v, want ErrActive", err)
	}
	if _, err := fl.Inject(ctx, PauseArgs{}, rng); err == nil {
		t.Error("Inject with another fault's arguments succeeded")
	}
	if err := fl.Recover(ctx); err != nil || fl.State() != Recovered {
		t.Fatalf("Recover = %v, state %s", err, fl.State())
	}
	if err := fl.Recover(ctx); err != nil {
		t.Errorf("a second Recover = %v, want a no-op", err)
	}

	// A failed injection is rolled back and journaled as recovered.
	f.failInject = true
	if _, err := fl.Inject(ctx, stubArgs{}, rng); err == nil || fl.State() != Recovered {
		t.Errorf("failing Inject = %v, state %s; want an error and recovered", err, fl.State())
	}
	f.failInject = false

	// A recovery that fails keeps the fault active, for a later try.
	if _, err := fl.Inject(ctx, stubArgs{}, rng); err != nil {
		t.Fatal(err)
	}
	f.failRecov = true
	if err := fl.Recover(ctx); err == nil || fl.State() != Active {
		t.Errorf("failing Recover = %v, state %s; want an error and active", err, fl.State())
	}
	f.failRecov = false
	if err := fl.Cleanup(ctx); err != nil || fl.State() != CleanedUp {
		t.Fatalf("Cleanup = %v, state %s", err, fl.State())
	}
	want := "setup inject recover inject recover inject recover recover cleanup"
	if got := strings.Join(f.calls, " "); got != want {
		t.Errorf("calls:\n got %s\nwant %s", got, want)
	}
	entries, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if out := Outstanding(entries); len(out) != 0 {
		t.Errorf("outstanding after Cleanup: %v", out)
	}
	injects := 0
	for _, e := range entries {
		if e.Event == EventInject {
			injects++
			if e.Owner == nil || e.Owner.Pid != os.Getpid() || !e.Owner.Alive() {
				t.Errorf("inject entry owner %+v", e.Owner)
			}
		}
	}
	if injects != 3 {
		t.Errorf("%d inject entries, want 3", injects)
	}
}

func TestJournalTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	j, err := OpenJournal(path, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Inject("stub", &stubAction{N: 1}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"time":"2025-01-01T00:00:00Z","event":"inj`)
	f.Close()
	entries, err := ReadJournal(path)
	if err != nil || len(Outstanding(entries)) != 1 {
		t.Fatalf("ReadJournal = %v, %v; want the torn line ignored", entries, err)
	}
	// A reopened journal continues the ids.
	j, err = OpenJournal(path, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if id, err := j.Inject("stub", &stubAction{N: 2}); err != nil || id != 2 {
		t.Errorf("Inject after reopening = %d, %v; want id 2", id, err)
	}
}

// The same seed draws the same faults with the same arguments, and every
// round of as many steps as there are faults injects each fault once; the
// plans those arguments make are the same too.
func TestScheduleIsRepeatable(t *testing.T) {
	const n = 30
	faults := []string{"partition", "kill", "pause", "clock", "packet"}
	c := newFakeCluster("n1", "n2", "n3", "n4", "n5")
	draws := func(seed int64) []string {
		specs, err := ParseFaultSpecs(faults)
		if err != nil {
			t.Fatal(err)
		}
		env := &Env{Cluster: c, DB: &fakeDB{primaries: []string{"n2"}}}
		l := &lane{specs: specs, rng: newRNG(seed)}
		var out []string
		for step := range n {
			fs, args, srng := l.next()
			line := fs.Name
			spec, _ := Lookup(fs.Name)
			if pa, ok := args.(PacketArgs); ok {
				pa.DelayMethod = DelayNfqueue // auto would ask the nodes
				args = pa
			}
			if a, err := spec.New(env).Plan(context.Background(), args, srng); err != nil {
				t.Fatalf("step %d: planning %s: %v", step, fs.Name, err)
			} else {
				line += " " + histories.FormatValue(a.Value())
			}
			out = append(out, line)
		}
		return out
	}
	a, b, other := draws(42), draws(42), draws(43)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("seed 42 twice gave different faults:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if strings.Join(a, "\n") == strings.Join(other, "\n") {
		t.Error("seeds 42 and 43 gave the same faults")
	}
	for round := 0; round < n; round += len(faults) {
		kinds := map[string]int{}
		for _, s := range a[round : round+len(faults)] {
			kinds[strings.Fields(s)[0]]++
		}
		if len(kinds) != len(faults) {
			t.Errorf("steps %d–%d drew %d of %d faults: %v", round, round+len(faults)-1, len(kinds), len(faults), kinds)
		}
	}
	t.Logf("seed 42, first steps:\n%s", strings.Join(a[:6], "\n"))
}

// A fault's parameters fix what they name, every time; the rest is drawn.
func TestFaultSpecs(t *testing.T) {
	rng := newRNG(7)
	for _, c := range []struct {
		spec string
		ok   func(Args) bool
	}{
		{"partition:halves", func(a Args) bool { return a.(PartitionArgs).Grudge == GrudgeHalves }},
		{"partition:grudge=majorities-ring", func(a Args) bool { return a.(PartitionArgs).Grudge == GrudgeMajoritiesRing }},
		{"partition:nodes=n1+n3", func(a Args) bool {
			p := a.(PartitionArgs)
			return p.Grudge == GrudgeIsolate && p.Nodes.String() == "n1,n3"
		}},
		{"kill:one", func(a Args) bool { return a.(KillArgs).Nodes.Kind == SelectOne }},
		{"kill:nodes=n2", func(a Args) bool { return a.(KillArgs).Nodes.String() == "n2" }},
		{"pause:primaries", func(a Args) bool { return a.(PauseArgs).Nodes.Kind == SelectPrimaries }},
		{"unplug:all", func(a Args) bool { return a.(UnplugArgs).Nodes.Kind == SelectAll }},
		{"clock:strobe:offset=5s:period=100ms:majority", func(a Args) bool {
			c := a.(ClockArgs)
			return c.Mode == ClockStrobe && c.Offset == 5*time.Second && c.Period == 100*time.Millisecond && c.Nodes.Kind == SelectMajority
		}},
		{"packet:loss=0.2", func(a Args) bool {
			p := a.(PacketArgs)
			return p.Loss == 0.2 && p.Delay == 0 && p.Rate == 0
		}},
		{"packet:delay=50ms:jitter=10ms:nodes=all:method=nfqueue", func(a Args) bool {
			p := a.(PacketArgs)
			return p.Delay == 50*time.Millisecond && p.Jitter == 10*time.Millisecond && p.Nodes.Kind == SelectAll && p.DelayMethod == DelayNfqueue
		}},
		{"packet:rate=64KiB", func(a Args) bool { return a.(PacketArgs).Rate == 64<<10 }},
	} {
		fs, err := ParseFaultSpec(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if fs.String() != c.spec {
			t.Errorf("%s prints as %s", c.spec, fs)
		}
		for range 20 {
			if a := fs.Args(rng); !c.ok(a) {
				t.Errorf("%s drew %+v", c.spec, a)
				break
			}
		}
	}
	// Without parameters the schedule draws: kill picks among the kinds.
	fs, _ := ParseFaultSpec("kill")
	kinds := map[SelectKind]bool{}
	for range 50 {
		kinds[fs.Args(rng).(KillArgs).Nodes.Kind] = true
	}
	if len(kinds) < 3 {
		t.Errorf("kill drew only %v", kinds)
	}
	for spec, want := range map[string]string{
		"meteor":             `unknown fault "meteor"`,
		"partition:halfs":    `fault "partition:halfs", parameter "halfs": grudge "halfs": want one of`,
		"kill:oen":           `fault "kill:oen", parameter "oen": unknown word "oen" (want which nodes`,
		"packet:loss=1.5":    `parameter "loss=1.5": "1.5" is not a probability`,
		"packet:delay=50":    `"50" is not a duration with a unit`,
		"packet:speed=1":     `unknown parameter "speed"`,
		"clock:offset=-1s":   `-1s must be positive`,
		"kill:":              `fault "kill:": empty parameter`,
		"partition:explicit": `an explicit grudge is given with`,
		"kill:nodes=n1++n2":  `empty node name`,
	} {
		_, err := ParseFaultSpec(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", spec, err, want)
		}
	}
}

func TestScheduleRejectsBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	rec := func(op histories.Op) (histories.Op, error) { return op, nil }
	c := newFakeCluster("n1", "n2", "n3")
	ag := agent.NewPool(c, agent.PoolOptions{})
	for _, cfg := range []Config{
		{Cluster: c, Agents: ag, Record: rec, JournalPath: path, Faults: []string{"meteor"}},
		{Cluster: c, Agents: ag, Record: rec, JournalPath: path, Faults: []string{"kill"}},
		{Cluster: c, Agents: ag, Record: rec, Faults: []string{"partition"}},
		{Cluster: c, Agents: ag, JournalPath: path, Faults: []string{"partition"}},
		{Cluster: c, Agents: ag, Record: rec, JournalPath: path},
		{Cluster: c, Record: rec, JournalPath: path, Faults: []string{"partition"}},
		{Cluster: c, Agents: ag, Record: rec, JournalPath: path, Faults: []string{"partition:halfs"}},
		// A node the cluster does not have is refused before the run.
		{Cluster: c, Agents: ag, DB: &fakeDB{}, Record: rec, JournalPath: path, Faults: []string{"kill:nodes=n9"}},
	} {
		if _, err := NewSchedule(cfg); err == nil {
			t.Errorf("NewSchedule(%+v) succeeded", cfg)
		}
	}
}

func TestRegistry(t *testing.T) {
	names := Names()
	if strings.Join(names, ",") != "partition,kill,pause,clock,packet,unplug" {
		t.Errorf("Names = %v", names)
	}
	for _, s := range All() {
		if s.Doc == "" || strings.Contains(s.Doc, "\n") || s.New == nil || s.Random == nil {
			t.Errorf("spec %s incomplete", s.Name)
		}
		if a := s.Random(rand.New(rand.NewPCG(1, 1))); a.Fault() != s.Name {
			t.Errorf("%s: Random gives arguments for %s", s.Name, a.Fault())
		}
	}
	if _, err := Lookup("meteor"); err == nil {
		t.Error("Lookup(meteor) succeeded")
	}
}

func TestScheduleOnEtcd(t *testing.T) {
	c := newCluster(t, 3)
	tg := newEtcd(t, c)
	dir := t.TempDir()
	rec, err := histories.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const steps = 6
	var mu sync.Mutex
	n := 0
	env := newEnv(t, c, tg)
	s, err := NewSchedule(Config{
		Cluster: c,
		Agents:  env.Agents,
		DB:      tg,
		Record: func(op histories.Op) (histories.Op, error) {
			op, err := rec.Record(op)
			mu.Lock()
			defer mu.Unlock()
			if strings.HasPrefix(op.F, "stop-") {
				if n++; n == steps {
					cancel()
				}
			}
			return op, err
		},
		JournalPath: filepath.Join(dir, JournalFile),
		Faults:      []string{"partition", "kill", "pause", "clock", "packet"},
		Interval:    300 * time.Millisecond,
		Seed:        1,
		Logf:        t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The controller's way: HealAll from a defer, whatever happens.
	defer func() {
		if err := s.HealAll(context.Background()); err != nil {
			t.Errorf("HealAll: %v", err)
		}
		assertHealed(t, env)
	}()
	seen := map[string]bool{}
	go func() {
		for ctx.Err() == nil {
			if cur := s.Current(); cur != "" {
				mu.Lock()
				seen[strings.Fields(cur)[0]] = true
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	deadline, stop := context.WithTimeout(ctx, 50*time.Second)
	defer stop()
	start := time.Now()
	if err := s.Run(deadline); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if err := s.HealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	h, err := histories.ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	startsN, stops := 0, 0
	for _, op := range h {
		lines = append(lines, op.F+" "+histories.FormatValue(op.Value)+" "+op.Error)
		if op.Process != histories.Nemesis || op.Type != histories.Info {
			t.Errorf("op %v is not a nemesis info op", op)
		}
		if op.Error != "" {
			t.Errorf("op %v failed", op)
		}
		switch {
		case strings.HasPrefix(op.F, "start-"):
			startsN++
		case strings.HasPrefix(op.F, "stop-"):
			stops++
		}
	}
	t.Logf("%d steps in %v; history:\n%s", steps, took.Round(time.Millisecond), strings.Join(lines, "\n"))
	if startsN != steps || stops != steps {
		t.Errorf("%d starts and %d stops, want %d each", startsN, stops, steps)
	}
	mu.Lock()
	t.Logf("Current() showed %v", seen)
	if len(seen) == 0 {
		t.Error("Current() never showed a fault")
	}
	mu.Unlock()
	entries, err := ReadJournal(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if out := Outstanding(entries); len(out) != 0 {
		t.Errorf("journal: %d outstanding actions after HealAll", len(out))
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := tg.WaitHealthy(wctx); err != nil {
		t.Fatal(err)
	}
}

// The controller's Ctrl-C path: a fault is active, the test's context has
// ended, and the deferred HealAll gets that ended context.
func TestHealAllWithEndedContext(t *testing.T) {
	c := newCluster(t, 3)
	var ops []histories.Op
	s, err := NewSchedule(Config{
		Cluster:     c,
		Agents:      newEnv(t, c, nil).Agents,
		Record:      func(op histories.Op) (histories.Op, error) { ops = append(ops, op); return op, nil },
		JournalPath: journalPath(t),
		Faults:      []string{"partition", "packet"},
		Seed:        2,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rng := rand.New(rand.NewPCG(1, 1))
	if ok, err := s.inject(ctx, "partition", PartitionArgs{Grudge: GrudgeOne}, rng); !ok || err != nil {
		t.Fatalf("inject: %v, %v", ok, err)
	}
	if ok, err := s.inject(ctx, "packet", PacketArgs{Nodes: Select(SelectAll), Loss: 0.5}, rng); !ok || err != nil {
		t.Fatalf("inject: %v, %v", ok, err)
	}
	if s.Current() == "" {
		t.Error("Current is empty while faults are active")
	}
	cancel()
	if err := s.HealAll(ctx); err != nil {
		t.Fatal(err)
	}
	assertNoFaultlineRules(t, c)
	var fs []string
	for _, op := range ops {
		fs = append(fs, op.F)
	}
	if got := strings.Join(fs, " "); got != "start-partition start-packet stop-packet stop-partition" {
		t.Errorf("history: %s", got)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Errorf("Run after HealAll: %v", err)
	}
}

// ctxFault's Recover ends the run's context half-way through, as a time
// limit falling while a partition is healed does.
type ctxFault struct {
	stubFault
	cancel   context.CancelFunc
	recoverd error
}

func (f *ctxFault) Inject(ctx context.Context, id int64, a Action) error { return nil }

func (f *ctxFault) Recover(ctx context.Context, id int64, a Action) error {
	f.cancel()
	time.Sleep(10 * time.Millisecond)
	f.recoverd = ctx.Err()
	return ctx.Err()
}

// Recovery runs on a context that the end of the run cannot cancel: the
// fault is healed and recorded, not left in effect with "context canceled".
func TestRecoverOutlivesTheRun(t *testing.T) {
	var ops []histories.Op
	f := &ctxFault{stubFault: stubFault{t: t, journal: ""}}
	s := &Schedule{
		cfg:     Config{Faults: []string{"stub"}, Record: func(op histories.Op) (histories.Op, error) { ops = append(ops, op); return op, nil }},
		env:     &Env{},
		failers: map[string]*Failer{"stub": NewFailer(f, nil)},
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	if _, err := s.failers["stub"].Inject(ctx, stubArgs{}, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	if err := s.recover(ctx, "stub"); err != nil {
		t.Fatalf("recover: %v", err)
	}
	if f.recoverd != nil || ctx.Err() == nil {
		t.Errorf("Recover saw %v after the run's context ended (%v); want a context of its own", f.recoverd, ctx.Err())
	}
	if len(ops) != 1 || ops[0].F != "stop-stub" || ops[0].Error != "" {
		t.Errorf("recorded %+v, want one clean stop-stub", ops)
	}
}
