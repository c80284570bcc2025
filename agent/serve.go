package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	clockskew "github.com/faultline-dev/faultline/nemesis/clock"
)

// The long-running agent ("warden") of one controller session on a node.
// The controller starts it through its control backend with pipes for
// standard input and output and speaks JSON lines over them: requests in,
// responses out. It applies faults on the node, recording each in its
// ledger first, and holds them under a lease that every request renews:
// when the lease runs out (the controller died, hung or lost the network)
// it undoes every fault it holds. End of input means the controller has
// gone: the agent then waits out the lease, heals and exits. SIGTERM heals
// at once (faultline heal uses it); SIGUSR1 hands the session over to a
// new agent (after a reconnection) without undoing anything but what only
// this process holds (a delayer, a strobe).

type request struct {
	ID      int64    `json:"id"`
	Op      string   `json:"op"`
	Fault   int64    `json:"fault,omitempty"`
	Action  *Action  `json:"action,omitempty"`
	Chains  []string `json:"chains,omitempty"`
	Roots   []Proc   `json:"roots,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
}

type response struct {
	ID      int64         `json:"id"`
	Error   string        `json:"error,omitempty"`
	Applied *Applied      `json:"applied,omitempty"`
	Procs   []Proc        `json:"procs,omitempty"`
	Offset  time.Duration `json:"offset,omitempty"`
	Facts   *Facts        `json:"facts,omitempty"`
	Undone  []string      `json:"undone,omitempty"`
	// Expired says the lease ran out before this request and the agent
	// undid every fault it held (ExpiredAt says when).
	Expired   bool      `json:"expired,omitempty"`
	ExpiredAt time.Time `json:"expired_at,omitzero"`
	// Pid is the agent's own, in the greeting (ID 0).
	Pid int `json:"pid,omitempty"`
}

// Ops of the protocol.
const (
	opRenew   = "renew"   // nothing but the lease
	opSetup   = "setup"   // make faultline's chains (Chains), empty
	opCleanup = "cleanup" // remove faultline's chains (Chains)
	opApply   = "apply"   // apply Action as Fault
	opRecover = "recover" // undo Fault
	opPs      = "ps"      // the trees of Roots, or processes matching Pattern
	opOffsets = "offsets" // the clock offset of the trees of Roots
	opProbe   = "probe"   // what the node can do (Facts)
	opBye     = "bye"     // undo what is held, and exit
)

func init() {
	register("serve", "hold faults for a controller session: JSON requests on stdin, under a lease", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("serve", stderr)
		dir := fs.String("dir", "", "node directory (ledger, pid file); required")
		session := fs.String("session", "", "controller session id; required")
		lease := fs.Duration("lease", 30*time.Second, "undo every fault when no request came for this long (0: hold until told)")
		reapRun := fs.Bool("reap", false, "when the lease runs out after the controller has gone, also kill what the run spawned under --dir")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		if *dir == "" || *session == "" {
			fmt.Fprintln(stderr, "usage: faultline agent serve --dir DIR --session ID [--lease D] [--reap]")
			return exitUsage
		}
		w := &warden{dir: *dir, session: *session, lease: *lease, reap: *reapRun,
			out: json.NewEncoder(stdout), log: log.New(stderr, "", log.LstdFlags|log.Lmicroseconds), live: map[int64]*liveFault{}}
		return w.serve(os.Stdin)
	})
}

type liveFault struct {
	u       undo
	delayer *delayer
	strobe  context.CancelFunc
	strobed sync.WaitGroup
}

type warden struct {
	dir, session string
	lease        time.Duration
	reap         bool
	log          *log.Logger

	outMu sync.Mutex
	out   *json.Encoder

	mu        sync.Mutex // held while faults change
	led       *ledger
	live      map[int64]*liveFault
	order     []int64 // live faults, oldest first
	renewed   time.Time
	expiredAt time.Time // zero unless the lease ran out
	eof       bool
	stopped   bool
}

func (w *warden) send(r response) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	_ = w.out.Encode(r) // the controller may have gone; the lease covers it
}

func (w *warden) serve(in io.Reader) int {
	// The connection may go; the agent must not go with it.
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)

	// An agent of this session that is still alive (the controller lost
	// its connection and started another) hands the session over first.
	if old, err := readPidFile(pidPath(w.dir, w.session)); err == nil && old.Pid != os.Getpid() {
		if _, ok := old.live(); ok {
			_ = sendSignal(old, syscall.SIGUSR1)
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if _, ok := old.live(); !ok {
					break
				}
			}
			w.log.Printf("took session %s over from agent %d", w.session, old.Pid)
		}
	}
	led, err := openLedger(ledgerPath(w.dir, w.session))
	if err != nil {
		w.log.Printf("opening the ledger: %v", err)
		w.send(response{Error: "opening the ledger: " + err.Error()})
		return exitError
	}
	w.led = led
	defer led.close()
	// A session taken over from an agent that went (a reconnection) keeps
	// its faults: they are in the ledger.
	if order, undos, err := outstanding(led.path); err == nil {
		for _, id := range order {
			w.live[id] = &liveFault{u: undos[id]}
			w.order = append(w.order, id)
		}
	}
	if err := writePidFile(pidPath(w.dir, w.session)); err != nil {
		w.log.Printf("writing the pid file: %v", err)
	}
	w.renewed = time.Now()
	w.log.Printf("agent %d serving session %s (lease %v, %d faults held)", os.Getpid(), w.session, w.lease, len(w.order))
	w.send(response{ID: 0, Pid: os.Getpid()})

	reqs := make(chan request)
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			var r request
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				w.send(response{ID: -1, Error: "bad request: " + err.Error()})
				continue
			}
			reqs <- r
		}
	}()

	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var handlers sync.WaitGroup
	defer handlers.Wait()
	for {
		select {
		case r := <-reqs:
			w.mu.Lock()
			w.renewed = time.Now()
			w.mu.Unlock()
			if r.Op == opBye {
				w.healAll("the controller said bye")
				w.send(response{ID: r.ID})
				return w.exit()
			}
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				w.send(w.handle(r))
			}()
		case <-eof:
			eof = nil
			w.mu.Lock()
			w.eof = true
			n, held := len(w.order), w.holdsInProcess()
			w.mu.Unlock()
			w.log.Printf("the controller's session ended (%d faults held)", n)
			// Without a bye the controller died (or lost the node). With
			// --reap the run's processes go when the lease runs out, held
			// faults or not: a controller SIGKILLed between two faults
			// must not leave the target running on this node.
			if n == 0 && (!w.reap || w.lease == 0) {
				return w.exit()
			}
			if w.lease == 0 && !held {
				// Held until healed by hand (faultline nemesis heal): the
				// ledger keeps them, nothing needs this process.
				return w.exit()
			}
		case <-tick.C:
			w.mu.Lock()
			due := w.lease > 0 && time.Since(w.renewed) > w.lease && w.expiredAt.IsZero()
			gone := w.eof
			w.mu.Unlock()
			if due {
				w.healAll(fmt.Sprintf("the lease ran out (no request for %v)", w.lease))
				w.mu.Lock()
				w.expiredAt = time.Now()
				w.mu.Unlock()
				if gone {
					if w.reap {
						if killed, err := reap(w.dir); err != nil {
							w.log.Printf("reaping the run's processes: %v", err)
						} else if len(killed) > 0 {
							w.log.Printf("killed %d processes the run spawned", len(killed))
						}
					}
					return w.exit()
				}
			}
		case s := <-sigs:
			if s == syscall.SIGUSR1 {
				w.handOver()
				return w.exit()
			}
			w.healAll("signal " + s.String())
			return w.exit()
		}
	}
}

func (w *warden) exit() int {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	os.Remove(pidPath(w.dir, w.session))
	w.log.Printf("agent %d exits", os.Getpid())
	return exitOK
}

// holdsInProcess reports whether a live fault needs this process (a
// delayer or a strobe). w.mu is held.
func (w *warden) holdsInProcess() bool {
	for _, f := range w.live {
		if f.delayer != nil || f.strobe != nil {
			return true
		}
	}
	return false
}

func (w *warden) handle(r request) response {
	resp := response{ID: r.ID}
	w.mu.Lock()
	if !w.expiredAt.IsZero() {
		resp.Expired, resp.ExpiredAt = true, w.expiredAt
	}
	w.mu.Unlock()
	var err error
	switch r.Op {
	case opRenew:
	case opSetup:
		for _, c := range r.Chains {
			if err = w.setup(c); err != nil {
				break
			}
		}
	case opCleanup:
		err = removeChains(r.Chains)
	case opApply:
		if r.Action == nil {
			err = errors.New("apply: no action")
			break
		}
		resp.Applied, err = w.apply(r.Fault, *r.Action)
	case opRecover:
		resp.Undone, err = w.recover(r.Fault)
	case opPs:
		if r.Pattern != "" {
			resp.Procs, err = matching(r.Pattern)
		} else {
			resp.Procs, err = trees(r.Roots)
		}
	case opOffsets:
		var ps []Proc
		if ps, err = trees(r.Roots); err == nil {
			resp.Offset = offsetOf(ps)
		}
	case opProbe:
		f := probe()
		resp.Facts = &f
	default:
		err = fmt.Errorf("unknown op %q", r.Op)
	}
	if err != nil {
		resp.Error = err.Error()
	}
	return resp
}

// setup makes chain (empty) unless a fault holds rules in it.
func (w *warden) setup(chain string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.live {
		if f.u.Chain == chain {
			return nil
		}
	}
	return setChain(chain, nil)
}

func (w *warden) apply(fault int64, a Action) (*Applied, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return nil, errors.New("the agent is exiting")
	}
	if _, ok := w.live[fault]; ok {
		return nil, fmt.Errorf("fault %d is already applied", fault)
	}
	f := &liveFault{}
	record := func(u undo) error {
		f.u = u
		if err := w.led.record(fault, u); err != nil {
			return err
		}
		if _, ok := w.live[fault]; !ok {
			w.live[fault] = f
			w.order = append(w.order, fault)
		}
		return nil
	}
	applied, err := w.applyLocked(f, a, record)
	if err != nil {
		if _, ok := w.live[fault]; ok {
			// Part of it may be in effect: undo that part now.
			if _, uerr := w.undoLocked(fault, "rollback"); uerr != nil {
				err = errors.Join(err, fmt.Errorf("rolling back: %w", uerr))
			}
		}
		return nil, err
	}
	w.log.Printf("applied fault %d: %s", fault, a.Kind)
	return applied, nil
}

func (w *warden) applyLocked(f *liveFault, a Action, record func(undo) error) (*Applied, error) {
	switch a.Kind {
	case KindDrop:
		if len(a.Peers) == 0 {
			return &Applied{}, nil
		}
		if err := record(undo{Chain: PartitionChain}); err != nil {
			return nil, err
		}
		return &Applied{}, setChain(PartitionChain, dropRules(a.Peers))
	case KindPacket:
		if len(a.Peers) == 0 {
			return nil, errors.New("packet: no peers")
		}
		u := undo{Chain: PacketChain}
		out := &Applied{}
		delay := a.Delay > 0 || a.Jitter > 0
		if delay {
			switch a.Method {
			case DelayNetem:
				dev, err := routeDev(a.Peers[0])
				if err != nil {
					return nil, err
				}
				u.Qdisc, out.Dev = dev, dev
			case DelayNfqueue:
				u.Delayer = true
			default:
				return nil, fmt.Errorf("packet: delay method %q: want netem or nfqueue", a.Method)
			}
			out.Method = a.Method
		}
		if err := record(u); err != nil {
			return nil, err
		}
		if delay && a.Method == DelayNfqueue {
			// The delayer first: its rule must find it there.
			d, err := startDelayer(a.Delay, a.Jitter, a.Seed)
			if err != nil {
				return nil, err
			}
			f.delayer = d
		}
		if err := setChain(PacketChain, packetRules(a)); err != nil {
			return nil, err
		}
		if delay && a.Method == DelayNetem {
			if err := addNetem(u.Qdisc, a.Delay, a.Jitter, a.Peers); err != nil {
				return nil, err
			}
		}
		return out, nil
	case KindStop:
		ps, err := stopTrees(a.Roots, func(ps []Proc) error { return record(undo{Stopped: ps}) })
		return &Applied{Procs: ps}, err
	case KindSkew:
		ps, err := trees(a.Roots)
		if err != nil {
			return nil, err
		}
		if a.Offset == 0 && a.Period == 0 {
			// A reset: nothing to hold.
			_, err := resetAll(ps)
			return &Applied{Procs: ps}, errors.Join(err, record(undo{}))
		}
		if err := record(undo{Skewed: ps}); err != nil {
			return nil, err
		}
		// The first phase at once, so that the skew is in effect when
		// apply returns; a strobe flips it from there.
		if err := skewAll(ps, a.Offset); err != nil {
			return nil, err
		}
		if a.Period > 0 {
			ctx, cancel := context.WithCancel(context.Background())
			f.strobe = cancel
			for _, p := range ps {
				f.strobed.Add(1)
				go func() {
					defer f.strobed.Done()
					err := clockskew.Strobe(ctx, p.Pid, a.Offset, a.Period, 365*24*time.Hour, clockskew.Options{})
					if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, clockskew.ErrNoProcess) {
						w.log.Printf("strobing the clock of pid %d: %v", p.Pid, err)
					}
				}()
			}
		}
		return &Applied{Procs: ps}, nil
	case KindNote:
		return &Applied{}, record(undo{Restart: a.Restart, What: a.What})
	}
	return nil, fmt.Errorf("unknown action kind %q", a.Kind)
}

func (w *warden) recover(fault int64) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.live[fault]; !ok {
		return nil, nil // undone already (the lease ran out, or twice)
	}
	return w.undoLocked(fault, "")
}

// undoLocked undoes a live fault and marks it done; by is "" when the
// controller asked (a note's restart is then the controller's business).
func (w *warden) undoLocked(fault int64, by string) ([]string, error) {
	f := w.live[fault]
	undone, err := undoFault(f.u, f, by != "")
	if err != nil {
		w.log.Printf("undoing fault %d: %v", fault, err)
		return undone, err
	}
	delete(w.live, fault)
	w.order = slices.DeleteFunc(w.order, func(id int64) bool { return id == fault })
	if err := w.led.done(fault, by); err != nil {
		return undone, err
	}
	w.log.Printf("undid fault %d%s", fault, map[bool]string{true: " (" + by + ")", false: ""}[by != ""])
	return undone, nil
}

// healAll undoes every live fault, newest first.
func (w *warden) healAll(why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.order) == 0 {
		return
	}
	w.log.Printf("healing %d faults: %s", len(w.order), why)
	for i := len(w.order) - 1; i >= 0; i-- {
		if _, err := w.undoLocked(w.order[i], "agent"); err != nil {
			w.log.Printf("%v", err)
		}
	}
}

// handOver undoes what only this process holds (delayers, strobes) and
// leaves the rest in the ledger for the session's next agent.
func (w *warden) handOver() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range slices.Clone(w.order) {
		if f := w.live[id]; f.delayer != nil || f.strobe != nil {
			if _, err := w.undoLocked(id, "hand-over"); err != nil {
				w.log.Printf("%v", err)
			}
		}
	}
	w.log.Printf("handing session %s over with %d faults held", w.session, len(w.order))
}

// undoFault undoes u; f, if not nil, holds what lives in this process.
// restart says whether a note's restart command runs. It reports what it
// undid, for people.
func undoFault(u undo, f *liveFault, restart bool) ([]string, error) {
	var did []string
	var errs []error
	if u.Chain != "" {
		// Rules first, so nothing new reaches a delayer.
		if err := flushChain(u.Chain); err != nil {
			errs = append(errs, err)
		} else {
			did = append(did, "emptied iptables chain "+u.Chain)
		}
	}
	if f != nil && f.delayer != nil {
		f.delayer.stop()
		did = append(did, fmt.Sprintf("stopped the delayer (%d packets held)", f.delayer.queued.Load()))
		f.delayer = nil
	}
	if u.Qdisc != "" {
		if ok, err := delQdisc(u.Qdisc); err != nil {
			errs = append(errs, err)
		} else if ok {
			did = append(did, "removed netem on "+u.Qdisc)
		}
	}
	if len(u.Stopped) > 0 {
		resumed, err := contAll(u.Stopped)
		if err != nil {
			errs = append(errs, err)
		}
		for _, p := range resumed {
			did = append(did, fmt.Sprintf("resumed stopped pid %d", p.Pid))
		}
	}
	if f != nil && f.strobe != nil {
		f.strobe()
		f.strobed.Wait()
		f.strobe = nil
	}
	if len(u.Skewed) > 0 {
		reset, err := resetAll(u.Skewed)
		if err != nil {
			errs = append(errs, err)
		}
		for _, p := range reset {
			did = append(did, fmt.Sprintf("reset the clock of pid %d", p.Pid))
		}
	}
	if restart && len(u.Restart) > 0 {
		if err := runRestart(u.Restart); err != nil {
			errs = append(errs, fmt.Errorf("restarting after %s: %w", u.What, err))
		} else {
			did = append(did, "restarted: "+u.What)
		}
	}
	return did, errors.Join(errs...)
}
