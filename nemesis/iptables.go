package nemesis

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/local"
)

// Faultline's iptables chains in a node: RootChain is jumped to first thing
// from INPUT and OUTPUT, and jumps to one sub-chain per fault kind, so
// that healing one fault (flushing its sub-chain) leaves another's rules
// alone, and healing everything touches nothing but faultline's chains.
const (
	RootChain      = "FAULTLINE"
	partitionChain = RootChain + "-PARTITION"
	packetChain    = RootChain + "-PACKET"
)

// runner runs a short command on one node and returns its combined output.
type runner func(ctx context.Context, path string, args ...string) ([]byte, error)

func clusterRunner(c control.Cluster, node string) runner {
	return func(ctx context.Context, path string, args ...string) ([]byte, error) {
		return c.Exec(ctx, node, control.Cmd{Path: path, Args: args})
	}
}

// attacher reaches nodes of local clusters by namespace name, attaching to
// each run once.
type attacher struct {
	mu   sync.Mutex
	runs map[string]*local.Cluster
}

// splitNamespace splits fl-<run id>-<node>.
func splitNamespace(ns string) (id, node string, ok bool) {
	rest, ok := strings.CutPrefix(ns, local.Prefix)
	if !ok || len(rest) < 8 || rest[6] != '-' {
		return "", "", false
	}
	return rest[:6], rest[7:], true
}

// runner returns a runner for the node whose namespace is ns, or an error
// wrapping errNoNamespace if the namespace no longer exists.
func (a *attacher) runner(ns string) (runner, error) {
	id, node, ok := splitNamespace(ns)
	if !ok {
		return nil, fmt.Errorf("%q is not a faultline node namespace", ns)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.runs == nil {
		a.runs = map[string]*local.Cluster{}
	}
	c := a.runs[id]
	if c == nil {
		var err error
		if c, err = local.Attach(id); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoNamespace, err)
		}
		a.runs[id] = c
	}
	if _, err := c.Namespace(node); err != nil {
		return nil, fmt.Errorf("%w: %s", errNoNamespace, ns)
	}
	return clusterRunner(c, node), nil
}

var errNoNamespace = errors.New("namespace no longer exists")

// firewall is faultline's part of one node's iptables.
type firewall struct {
	node string
	run  runner
}

func (fw firewall) ipt(ctx context.Context, args ...string) ([]byte, error) {
	out, err := fw.run(ctx, "iptables", append([]string{"-w", "5"}, args...)...)
	if errors.Is(err, exec.ErrNotFound) {
		return out, fmt.Errorf("iptables on %s: %w (install it: apt-get install iptables)", fw.node, err)
	}
	if err != nil {
		return out, fmt.Errorf("iptables %s on %s: %w", strings.Join(args, " "), fw.node, err)
	}
	return out, nil
}

// rules lists the node's filter table as `iptables -S` prints it.
func (fw firewall) rules(ctx context.Context) ([]string, error) {
	out, err := fw.ipt(ctx, "-S")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n"), nil
}

// ensure makes RootChain (jumped to from INPUT and OUTPUT) and sub (jumped
// to from RootChain: first if first, else last) unless they exist.
func (fw firewall) ensure(ctx context.Context, sub string, first bool) error {
	rules, err := fw.rules(ctx)
	if err != nil {
		return err
	}
	has := func(line string) bool { return slices.Contains(rules, line) }
	var steps [][]string
	if !has("-N " + RootChain) {
		steps = append(steps, []string{"-N", RootChain})
	}
	for _, hook := range []string{"INPUT", "OUTPUT"} {
		if !has("-A " + hook + " -j " + RootChain) {
			steps = append(steps, []string{"-I", hook, "1", "-j", RootChain})
		}
	}
	if !has("-N " + sub) {
		steps = append(steps, []string{"-N", sub})
	}
	if !has("-A " + RootChain + " -j " + sub) {
		if first {
			steps = append(steps, []string{"-I", RootChain, "1", "-j", sub})
		} else {
			steps = append(steps, []string{"-A", RootChain, "-j", sub})
		}
	}
	for _, s := range steps {
		if out, err := fw.ipt(ctx, s...); err != nil && !strings.Contains(string(out), "already exists") {
			return err
		}
	}
	return nil
}

// add appends a rule to chain.
func (fw firewall) add(ctx context.Context, chain string, rule ...string) error {
	_, err := fw.ipt(ctx, append([]string{"-A", chain}, rule...)...)
	return err
}

// flush empties chain; a missing chain is not an error.
func (fw firewall) flush(ctx context.Context, chain string) error {
	out, err := fw.ipt(ctx, "-F", chain)
	if err != nil && missingChain(out) {
		return nil
	}
	return err
}

func missingChain(out []byte) bool {
	s := string(out)
	return strings.Contains(s, "No chain/target/match") || strings.Contains(s, "does not exist")
}

// remove deletes sub, and RootChain with its jumps once no sub-chain is
// left.
func (fw firewall) remove(ctx context.Context, sub string) error {
	rules, err := fw.rules(ctx)
	if err != nil {
		return err
	}
	var steps [][]string
	for _, r := range rules {
		if r == "-A "+RootChain+" -j "+sub {
			steps = append(steps, []string{"-D", RootChain, "-j", sub})
		}
	}
	left := 0
	for _, r := range rules {
		if strings.HasPrefix(r, "-A "+RootChain+" ") && r != "-A "+RootChain+" -j "+sub {
			left++
		}
	}
	if slices.Contains(rules, "-N "+sub) {
		steps = append(steps, []string{"-F", sub}, []string{"-X", sub})
	}
	if left == 0 && slices.Contains(rules, "-N "+RootChain) {
		for _, hook := range []string{"INPUT", "OUTPUT"} {
			for _, r := range rules {
				if r == "-A "+hook+" -j "+RootChain {
					steps = append(steps, []string{"-D", hook, "-j", RootChain})
				}
			}
		}
		steps = append(steps, []string{"-F", RootChain}, []string{"-X", RootChain})
	}
	for _, s := range steps {
		if out, err := fw.ipt(ctx, s...); err != nil && !missingChain(out) {
			return err
		}
	}
	return nil
}

// chainRules counts the rules in each faultline chain of the node (the
// jumps between faultline's own chains not counted).
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

// removeAll deletes every faultline chain and jump in the node and returns
// the chains that held rules.
func (fw firewall) removeAll(ctx context.Context) ([]string, error) {
	rules, err := fw.rules(ctx)
	if err != nil {
		return nil, err
	}
	counts := chainRules(rules)
	if len(counts) == 0 {
		return nil, nil
	}
	var steps [][]string
	for _, hook := range []string{"INPUT", "OUTPUT", "FORWARD"} {
		for _, r := range rules {
			if f := strings.Fields(r); len(f) == 4 && f[0] == "-A" && f[1] == hook && f[2] == "-j" && strings.HasPrefix(f[3], RootChain) {
				steps = append(steps, []string{"-D", hook, "-j", f[3]})
			}
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
	var errs []error
	for _, s := range steps {
		if out, err := fw.ipt(ctx, s...); err != nil && !missingChain(out) {
			errs = append(errs, err)
		}
	}
	return active, errors.Join(errs...)
}

// forNodes runs f for every node at once and joins the errors.
func forNodes(nodes []string, f func(node string) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
