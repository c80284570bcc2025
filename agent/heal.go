package agent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	clockskew "github.com/faultline-dev/faultline/nemesis/clock"
)

// heal undoes, from another process, every fault the sessions under a
// node directory hold: it asks each live agent to heal and exit (SIGTERM),
// waits, then undoes what the ledgers still show (an agent that was
// killed). With --sweep it also removes faultline's iptables chains and
// netem and resets faultline's clock skews on the node, ledger or not;
// with --cont-stopped it resumes every stopped process in the agent's
// network namespace (only for nodes that are faultline's own namespaces);
// with --reap it kills what the run spawned; with --remove it removes the
// node directory at the end. It prints one line per thing it undid.
func init() {
	register("heal", "undo every fault held under --dir (and with --sweep, every faultline fault on the node)", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("heal", stderr)
		dir := fs.String("dir", "", "node directory")
		sweep := fs.Bool("sweep", false, "also remove faultline's chains, netem and clock skews found on the node")
		cont := fs.Bool("cont-stopped", false, "also resume every stopped process in this network namespace")
		reapRun := fs.Bool("reap", false, "also kill what the run spawned under --dir")
		remove := fs.Bool("remove", false, "remove --dir at the end")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		if *dir == "" && !*sweep {
			fmt.Fprintln(stderr, "usage: faultline agent heal --dir DIR [--sweep] [--cont-stopped] [--reap] [--remove]")
			return exitUsage
		}
		did, err := heal(*dir, *sweep, *cont, *reapRun, *remove)
		for _, d := range did {
			fmt.Fprintln(stdout, d)
		}
		if err != nil {
			return fail(stderr, "heal", err)
		}
		return exitOK
	})
}

func heal(dir string, sweep, cont, reapRun, remove bool) ([]string, error) {
	var did []string
	var errs []error
	if dir != "" {
		ss, err := sessions(dir)
		if err != nil {
			errs = append(errs, err)
		}
		for _, s := range ss {
			d, err := healSession(dir, s)
			did = append(did, d...)
			if err != nil {
				errs = append(errs, fmt.Errorf("session %s: %w", s, err))
			}
		}
	}
	if sweep {
		d, err := sweepNode(cont)
		did = append(did, d...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if reapRun && dir != "" {
		killed, err := reap(dir)
		for _, p := range killed {
			did = append(did, fmt.Sprintf("killed pid %d: %s", p.Pid, p.Cmd))
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if remove && dir != "" && len(errs) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return did, errors.Join(errs...)
}

// healSession stops the session's agent (which heals as it exits) and
// undoes what its ledger still holds.
func healSession(dir, session string) ([]string, error) {
	var did []string
	if p, err := readPidFile(pidPath(dir, session)); err == nil {
		if _, ok := p.live(); ok {
			// What it holds, to say what it undid once it has gone.
			order, undos, _ := outstanding(ledgerPath(dir, session))
			_ = sendSignal(p, syscall.SIGTERM)
			deadline := time.Now().Add(15 * time.Second)
			for {
				if _, ok := p.live(); !ok {
					did = append(did, fmt.Sprintf("stopped agent pid %d (session %s), which undid what it held:", p.Pid, session))
					left, _, _ := outstanding(ledgerPath(dir, session))
					for _, id := range order {
						if !slices.Contains(left, id) {
							for _, d := range describeUndo(undos[id]) {
								did = append(did, "  "+d)
							}
						}
					}
					break
				}
				if time.Now().After(deadline) {
					_ = sendSignal(p, syscall.SIGKILL)
					did = append(did, fmt.Sprintf("killed agent pid %d (session %s): it did not exit within 15 s", p.Pid, session))
					time.Sleep(100 * time.Millisecond)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		os.Remove(pidPath(dir, session))
	}
	order, undos, err := outstanding(ledgerPath(dir, session))
	if err != nil {
		return did, err
	}
	if len(order) == 0 {
		return did, nil
	}
	led, err := openLedger(ledgerPath(dir, session))
	if err != nil {
		return did, err
	}
	defer led.close()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		id := order[i]
		d, err := undoFault(undos[id], nil, true)
		did = append(did, d...)
		if err != nil {
			errs = append(errs, fmt.Errorf("fault %d: %w", id, err))
			continue
		}
		if err := led.done(id, "heal"); err != nil {
			errs = append(errs, err)
		}
	}
	return did, errors.Join(errs...)
}

// describeUndo says what undoing u does, for people.
func describeUndo(u undo) []string {
	var out []string
	if u.Chain != "" {
		out = append(out, "emptied iptables chain "+u.Chain)
	}
	if u.Delayer {
		out = append(out, "stopped the delayer")
	}
	if u.Qdisc != "" {
		out = append(out, "removed netem on "+u.Qdisc)
	}
	if len(u.Stopped) > 0 {
		out = append(out, "resumed stopped pids "+FormatProcs(u.Stopped))
	}
	if len(u.Skewed) > 0 {
		out = append(out, "reset the clocks of pids "+FormatProcs(u.Skewed))
	}
	if len(u.Restart) > 0 {
		out = append(out, "restarted: "+u.What)
	}
	return out
}

// sweepNode removes every fault of faultline's it can find on the node
// without a ledger.
func sweepNode(cont bool) ([]string, error) {
	var did []string
	var errs []error
	chains, err := removeAll()
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range chains {
		did = append(did, "removed iptables chain "+c+" (it held rules)")
	}
	// The node's own devices (sysfs may show another namespace's).
	if devs, err := net.Interfaces(); err == nil {
		for _, d := range devs {
			if ok, err := delQdisc(d.Name); err != nil {
				errs = append(errs, err)
			} else if ok {
				did = append(did, "removed netem on "+d.Name)
			}
		}
	}
	ps, err := allProcs()
	if err != nil {
		errs = append(errs, err)
	}
	for _, p := range ps {
		if ok, err := resetSkew(p.Pid); err != nil && !errors.Is(err, clockskew.ErrNoProcess) {
			errs = append(errs, fmt.Errorf("pid %d: %w", p.Pid, err))
		} else if ok {
			did = append(did, fmt.Sprintf("reset the clock of pid %d (%s)", p.Pid, cmdline(p.Pid)))
		}
		if cont && (p.State == "T" || p.State == "t") {
			if err := sendSignal(p, syscall.SIGCONT); err == nil {
				did = append(did, fmt.Sprintf("resumed stopped pid %d (%s)", p.Pid, strings.TrimSpace(cmdline(p.Pid))))
			}
		}
	}
	return did, errors.Join(errs...)
}

// held lists what the sessions under a node directory hold: one line per
// fault, "session fault what", from the ledgers.
func init() {
	register("held", "list the faults the sessions under --dir hold, from their ledgers", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("held", stderr)
		dir := fs.String("dir", "", "node directory")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		ss, err := sessions(*dir)
		if err != nil {
			return fail(stderr, "held", err)
		}
		for _, s := range ss {
			order, undos, err := outstanding(ledgerPath(*dir, s))
			if err != nil {
				return fail(stderr, "held", err)
			}
			for _, id := range order {
				fmt.Fprintf(stdout, "session %s fault %d: %s\n", s, id, strings.Join(describeUndo(undos[id]), "; "))
			}
		}
		return exitOK
	})
}
