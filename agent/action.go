package agent

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/internal/procfs"
	clockskew "github.com/faultline-dev/faultline/nemesis/clock"
)

// Kinds of Action.
const (
	// KindDrop cuts the node off from Peers: it drops packets from and to
	// them (PartitionChain).
	KindDrop = "drop"
	// KindPacket loses, rate-limits or delays what the node sends to Peers
	// (PacketChain; delay by netem or by a delayer inside the agent).
	KindPacket = "packet"
	// KindStop stops (SIGSTOP) the process trees of Roots; undone by
	// SIGCONT.
	KindStop = "stop"
	// KindSkew skews the clocks of the process trees of Roots by Offset,
	// or strobes them between +Offset and the real time every Period.
	KindSkew = "skew"
	// KindNote changes nothing: it records a fault applied some other way
	// (a kill, through the target) with the command that undoes it when
	// the controller cannot (Restart, run at heal or lease expiry).
	KindNote = "note"
)

// Ways to delay packets (Action.Method).
const (
	DelayNetem   = "netem"
	DelayNfqueue = "nfqueue"
)

// Action is a fault the agent applies on its node. The controller decides
// it; the agent records how to undo it (in its ledger, on disk) before it
// applies it.
type Action struct {
	Kind string `json:"kind"`
	// Peers are addresses (drop, packet).
	Peers []string `json:"peers,omitempty"`
	// Loss is a probability, Rate bytes per second to each peer, Delay ±
	// Jitter a hold per packet by Method (packet).
	Loss   float64       `json:"loss,omitempty"`
	Rate   int64         `json:"rate,omitempty"`
	Delay  time.Duration `json:"delay,omitempty"`
	Jitter time.Duration `json:"jitter,omitempty"`
	Method string        `json:"method,omitempty"`
	Seed   uint64        `json:"seed,omitempty"`
	// Roots are the processes whose trees stop or skew act on.
	Roots []Proc `json:"roots,omitempty"`
	// Offset and Period are the skew (Period > 0: a strobe).
	Offset time.Duration `json:"offset,omitempty"`
	Period time.Duration `json:"period,omitempty"`
	// Restart is argv of the command that undoes a note.
	Restart []string `json:"restart,omitempty"`
	// What says, for people reading the ledger, what the note is about.
	What string `json:"what,omitempty"`
}

// Applied is what applying an Action did: the processes stopped or
// skewed, and how packets are delayed.
type Applied struct {
	Procs  []Proc `json:"procs,omitempty"`
	Method string `json:"method,omitempty"`
	Dev    string `json:"dev,omitempty"`
}

// undo is what the ledger keeps of an applied action: enough to undo it
// from another process.
type undo struct {
	Chain   string   `json:"chain,omitempty"`
	Stopped []Proc   `json:"stopped,omitempty"`
	Skewed  []Proc   `json:"skewed,omitempty"`
	Qdisc   string   `json:"qdisc,omitempty"` // device with faultline's netem
	Delayer bool     `json:"delayer,omitempty"`
	Restart []string `json:"restart,omitempty"`
	What    string   `json:"what,omitempty"`
}

// dropRules are a partition's rules against peers: one per address and
// direction, so that the chain's rule count can be checked.
func dropRules(peers []string) [][]string {
	var out [][]string
	for _, p := range peers {
		out = append(out, []string{"-s", p, "-j", "DROP"})
	}
	for _, p := range peers {
		out = append(out, []string{"-d", p, "-j", "DROP"})
	}
	return out
}

// packetRules are a packet fault's iptables rules: loss and rate by
// iptables matches, delay by the NFQUEUE delayer (--queue-bypass, so a
// dead delayer never blackholes traffic).
func packetRules(a Action) [][]string {
	var out [][]string
	for _, peer := range a.Peers {
		out = append(out, peerRules(a, peer)...)
	}
	return out
}

func peerRules(a Action, peers string) [][]string {
	var out [][]string
	if a.Loss > 0 {
		prob := strconv.FormatFloat(a.Loss, 'f', -1, 64)
		out = append(out, []string{"-d", peers, "-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP"})
	}
	if a.Rate > 0 {
		kb := strconv.FormatInt(max(1, (a.Rate+1023)/1024), 10) + "kb"
		// hashlimit wants a burst of at least 64 KiB in byte mode.
		burst := strconv.FormatInt(max(64, (a.Rate+1023)/1024), 10) + "kb"
		out = append(out, []string{"-d", peers, "-m", "hashlimit", "--hashlimit-above", kb + "/s", "--hashlimit-burst", burst,
			"--hashlimit-mode", "dstip", "--hashlimit-name", "faultline", "-j", "DROP"})
	}
	if (a.Delay > 0 || a.Jitter > 0) && a.Method == DelayNfqueue {
		out = append(out, []string{"-d", peers, "-j", "NFQUEUE", "--queue-num", strconv.Itoa(delayQueue), "--queue-bypass"})
	}
	return out
}

// stopTrees stops the trees of roots, parents first so that no stopped
// parent's child is missed, again until every process of the trees is
// stopped (a parent may fork between the listing and its stop). record is
// called with the processes about to be stopped, before they are.
func stopTrees(roots []Proc, record func([]Proc) error) ([]Proc, error) {
	var stopped []Proc
	have := map[int]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps, err := trees(roots)
		if err != nil {
			return stopped, err
		}
		var fresh []Proc
		for _, p := range ps {
			if !have[p.Pid] {
				fresh = append(fresh, p)
			}
		}
		if len(fresh) == 0 {
			if err := waitStopped(stopped, 2*time.Second); err != nil {
				return stopped, err
			}
			return stopped, nil
		}
		if err := record(append(slices.Clone(stopped), fresh...)); err != nil {
			return stopped, err
		}
		for _, p := range fresh {
			have[p.Pid] = true
			stopped = append(stopped, p)
			if err := sendSignal(p, syscall.SIGSTOP); err != nil && !errors.Is(err, errGone) {
				return stopped, fmt.Errorf("SIGSTOP to pid %d: %w", p.Pid, err)
			}
		}
		if time.Now().After(deadline) {
			return stopped, fmt.Errorf("the process trees of %v kept growing for 5 s while being stopped", roots)
		}
	}
}

// contAll resumes ps in reverse order (children before parents), each
// only if it is still the same process and stopped. It returns those it
// resumed.
func contAll(ps []Proc) ([]Proc, error) {
	var done []Proc
	var errs []error
	for i := len(ps) - 1; i >= 0; i-- {
		p := ps[i]
		state, ok := p.live()
		if !ok || (state != 'T' && state != 't') {
			continue
		}
		if err := sendSignal(p, syscall.SIGCONT); err != nil && !errors.Is(err, errGone) {
			errs = append(errs, fmt.Errorf("SIGCONT to pid %d: %w", p.Pid, err))
			continue
		}
		done = append(done, p)
	}
	// SIGCONT lands asynchronously: wait until no thread is still in its
	// group stop, so that what comes next (a clock reset's ptrace, above
	// all) meets running processes and does not leave one stopped.
	waitResumed(done, 2*time.Second)
	return done, errors.Join(errs...)
}

// waitResumed returns once no thread of ps is in a signal stop (T), or
// after timeout.
func waitResumed(ps []Proc, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, p := range ps {
		for time.Now().Before(deadline) {
			states, err := procfs.ThreadStates(p.Pid)
			if err != nil || !slices.Contains(states, 'T') {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// skewAll skews every live process of ps.
func skewAll(ps []Proc, offset time.Duration) error {
	var errs []error
	for _, p := range ps {
		if _, ok := p.live(); !ok {
			continue
		}
		if err := clockskew.Skew(p.Pid, offset, clockskew.Options{}); err != nil && !errors.Is(err, clockskew.ErrNoProcess) {
			errs = append(errs, fmt.Errorf("skewing the clock of pid %d: %w", p.Pid, err))
		}
	}
	return errors.Join(errs...)
}

// resetAll resets the clocks of the live, skewed processes of ps and
// returns those it reset.
func resetAll(ps []Proc) ([]Proc, error) {
	var done []Proc
	var errs []error
	for _, p := range ps {
		if _, ok := p.live(); !ok {
			continue
		}
		did, err := resetSkew(p.Pid)
		if err != nil {
			errs = append(errs, fmt.Errorf("pid %d: %w", p.Pid, err))
		}
		if did {
			done = append(done, p)
		}
	}
	return done, errors.Join(errs...)
}

// resetSkew resets pid's clock if faultline skewed it.
func resetSkew(pid int) (bool, error) {
	st, err := clockskew.Inspect(pid)
	if errors.Is(err, clockskew.ErrNoProcess) || errors.Is(err, clockskew.ErrUnsupported) {
		return false, nil // gone, or cannot have been skewed
	}
	if err != nil {
		return false, fmt.Errorf("reading the clock skew: %w", err)
	}
	if !st.Skewed {
		return false, nil
	}
	if err := clockskew.Reset(pid); err != nil && !errors.Is(err, clockskew.ErrNoProcess) {
		return false, err
	}
	return true, nil
}

// offsetOf is the clock offset of the first skewed live process of ps, or
// 0.
func offsetOf(ps []Proc) time.Duration {
	for _, p := range ps {
		if _, ok := p.live(); !ok {
			continue
		}
		off, skewed, err := clockskew.Offset(p.Pid)
		if err == nil && skewed && off != 0 {
			return off
		}
	}
	return 0
}

// runRestart runs a note's undo command, detached from the agent (a
// service start may take a while and must outlive the agent).
func runRestart(argv []string) error {
	if len(argv) == 0 {
		return nil
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err == nil {
		defer devnull.Close()
		cmd.Stdin = devnull
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
