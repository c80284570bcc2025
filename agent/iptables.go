package agent

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Faultline's iptables chains on a node: RootChain is jumped to first
// thing from INPUT and OUTPUT, and jumps to one sub-chain per kind of
// fault, so that healing one fault (emptying its chain) leaves another's
// rules alone, and healing everything touches nothing but faultline's own
// chains: no other rule, no other table (Docker's DNS lives in nat), and
// never a flush of a built-in chain.
const (
	RootChain      = "FAULTLINE"
	PartitionChain = RootChain + "-PARTITION"
	PacketChain    = RootChain + "-PACKET"
)

// firstChains are jumped to from RootChain before the others.
var firstChains = []string{PartitionChain}

// xtablesWait is how long iptables waits for the xtables lock that other
// tools (a firewall manager, Docker) hold while they change the ruleset.
const xtablesWait = "5"

// iptables runs iptables with the xtables lock.
func iptables(args ...string) ([]byte, error) {
	out, err := exec.Command("iptables", append([]string{"-w", xtablesWait}, args...)...).CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return out, fmt.Errorf("iptables is not installed on this node (apt-get install iptables)")
	}
	if err != nil {
		return out, fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// rules lists the filter table as `iptables -S` prints it.
func rules() ([]string, error) {
	out, err := iptables("-S")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n"), nil
}

// jump is the rule line of chain from jumping to target.
func jump(from, target string) string { return "-A " + from + " -j " + target }

// setChain makes chain hold exactly rules (each the words after "-A
// chain"), with RootChain jumped to from INPUT and OUTPUT and jumping to
// chain: one iptables-restore, so the chain's content changes at once.
// A firewall manager that rewrites the ruleset between our commands
// (firewalld, ufw reloading) is answered by checking the result and
// trying again.
func setChain(chain string, rules [][]string) error {
	var last error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
		}
		have, err := currentRules()
		if err != nil {
			return err
		}
		var b strings.Builder
		b.WriteString("*filter\n")
		if !slices.Contains(have, "-N "+RootChain) {
			b.WriteString(":" + RootChain + " - [0:0]\n")
		}
		// Declaring a chain in a --noflush restore creates it or empties
		// it: the new content replaces the old in one commit.
		b.WriteString(":" + chain + " - [0:0]\n")
		for _, r := range rules {
			b.WriteString("-A " + chain + " " + strings.Join(r, " ") + "\n")
		}
		if !slices.Contains(have, jump(RootChain, chain)) {
			if slices.Contains(firstChains, chain) {
				b.WriteString("-I " + RootChain + " 1 -j " + chain + "\n")
			} else {
				b.WriteString(jump(RootChain, chain) + "\n")
			}
		}
		for _, hook := range []string{"INPUT", "OUTPUT"} {
			if !slices.Contains(have, jump(hook, RootChain)) {
				b.WriteString("-I " + hook + " 1 -j " + RootChain + "\n")
			}
		}
		b.WriteString("COMMIT\n")
		if err := restore(b.String()); err != nil {
			last = err
			continue
		}
		if afterRestore != nil {
			afterRestore(attempt)
		}
		if last = verify(chain, len(rules)); last == nil {
			return nil
		}
	}
	return fmt.Errorf("setting iptables chain %s: %w (something rewrites the ruleset: a firewall manager?)", chain, last)
}

func currentRules() ([]string, error) { return rules() }

// afterRestore, when set (by tests), runs between a restore and its
// check: where a firewall manager would rewrite the ruleset.
var afterRestore func(attempt int)

func restore(script string) error {
	cmd := exec.Command("iptables-restore", "-w", xtablesWait, "--noflush")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("iptables-restore is not installed on this node (apt-get install iptables)")
	}
	if err != nil {
		return fmt.Errorf("iptables-restore: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// verify checks that chain holds n rules and is reached from INPUT and
// OUTPUT.
func verify(chain string, n int) error {
	have, err := rules()
	if err != nil {
		return err
	}
	for _, need := range []string{jump("INPUT", RootChain), jump("OUTPUT", RootChain), jump(RootChain, chain)} {
		if !slices.Contains(have, need) {
			return fmt.Errorf("rule %q missing after the change", need)
		}
	}
	if got := chainRules(have)[chain]; got != n {
		return fmt.Errorf("chain %s holds %d rules, want %d", chain, got, n)
	}
	return nil
}

// flushChain empties chain; a missing chain is not an error.
func flushChain(chain string) error {
	out, err := iptables("-F", chain)
	if err != nil && missingChain(out) {
		return nil
	}
	return err
}

func missingChain(out []byte) bool {
	s := string(out)
	return strings.Contains(s, "No chain/target/match") || strings.Contains(s, "does not exist")
}

// chainRules counts the rules in each faultline chain (the jumps between
// faultline's own chains not counted).
func chainRules(rules []string) map[string]int {
	out := map[string]int{}
	for _, r := range rules {
		f := strings.Fields(r)
		if len(f) < 2 || !strings.HasPrefix(f[1], RootChain) {
			continue
		}
		switch f[0] {
		case "-N":
			if _, ok := out[f[1]]; !ok {
				out[f[1]] = 0
			}
		case "-A":
			if len(f) == 4 && f[2] == "-j" && strings.HasPrefix(f[3], RootChain) {
				continue
			}
			out[f[1]]++
		}
	}
	return out
}

// removeAll deletes every faultline chain and every jump to one, and
// returns the chains that held rules (faults in effect).
func removeAll() ([]string, error) {
	have, err := rules()
	if errors.Is(err, exec.ErrNotFound) || (err != nil && strings.Contains(err.Error(), "not installed")) {
		return nil, nil // no iptables, so no faultline rules
	}
	if err != nil {
		return nil, err
	}
	counts := chainRules(have)
	if len(counts) == 0 {
		return nil, nil
	}
	var steps [][]string
	for _, r := range have {
		f := strings.Fields(r)
		if len(f) == 4 && f[0] == "-A" && !strings.HasPrefix(f[1], RootChain) && f[2] == "-j" && strings.HasPrefix(f[3], RootChain) {
			steps = append(steps, []string{"-D", f[1], "-j", f[3]})
		}
	}
	var active []string
	for c := range counts {
		steps = append(steps, []string{"-F", c})
	}
	for c, n := range counts {
		steps = append(steps, []string{"-X", c})
		if n > 0 {
			active = append(active, c)
		}
	}
	slices.Sort(active)
	var errs []error
	for _, s := range steps {
		if out, err := iptables(s...); err != nil && !missingChain(out) {
			errs = append(errs, err)
		}
	}
	return active, errors.Join(errs...)
}

// removeChains deletes the sub-chains subs and their jumps, and RootChain
// with its jumps from INPUT and OUTPUT once no sub-chain is left in it.
func removeChains(subs []string) error {
	have, err := rules()
	if err != nil {
		return err
	}
	var steps [][]string
	for _, sub := range subs {
		if slices.Contains(have, jump(RootChain, sub)) {
			steps = append(steps, []string{"-D", RootChain, "-j", sub})
		}
		if slices.Contains(have, "-N "+sub) {
			steps = append(steps, []string{"-F", sub}, []string{"-X", sub})
		}
	}
	left := 0
	for _, r := range have {
		if strings.HasPrefix(r, "-A "+RootChain+" ") {
			f := strings.Fields(r)
			if !(len(f) == 4 && f[2] == "-j" && slices.Contains(subs, f[3])) {
				left++
			}
		}
	}
	if left == 0 && slices.Contains(have, "-N "+RootChain) {
		for _, hook := range []string{"INPUT", "OUTPUT"} {
			if slices.Contains(have, jump(hook, RootChain)) {
				steps = append(steps, []string{"-D", hook, "-j", RootChain})
			}
		}
		steps = append(steps, []string{"-F", RootChain}, []string{"-X", RootChain})
	}
	var errs []error
	for _, s := range steps {
		if out, err := iptables(s...); err != nil && !missingChain(out) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
