package nemesis

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/faultline-dev/faultline/control/local"
	clockskew "github.com/faultline-dev/faultline/nemesis/clock"
)

// Report says what HealJournal or HealLeftovers undid, and what they left.
type Report struct {
	// Chains are faultline iptables chains removed, as "namespace chain".
	Chains []string
	// Resumed are processes that were stopped and got SIGCONT.
	Resumed []ProcRef
	// Reset are processes whose clock skew was undone.
	Reset []ProcRef
	// Qdiscs are netem qdiscs removed, as "namespace dev".
	Qdiscs []string
	// Killed are nodes an action killed and nobody restarted: restarting
	// them needs the target (faultline nemesis heal does it).
	Killed []NodeRef
	// Journals are the journals whose outstanding actions were healed.
	Journals []string
	// Skipped says what was left alone, and why.
	Skipped []string

	_ struct{}
}

// Empty reports whether nothing was undone or left.
func (r Report) Empty() bool {
	return len(r.Chains)+len(r.Resumed)+len(r.Reset)+len(r.Qdiscs)+len(r.Killed) == 0
}

func (r *Report) merge(o Report) {
	r.Chains = append(r.Chains, o.Chains...)
	r.Resumed = append(r.Resumed, o.Resumed...)
	r.Reset = append(r.Reset, o.Reset...)
	r.Qdiscs = append(r.Qdiscs, o.Qdiscs...)
	r.Killed = append(r.Killed, o.Killed...)
	r.Journals = append(r.Journals, o.Journals...)
	r.Skipped = append(r.Skipped, o.Skipped...)
}

// String is the report as people read it, one line per thing.
func (r Report) String() string {
	var b strings.Builder
	for _, c := range r.Chains {
		fmt.Fprintf(&b, "removed iptables chain %s\n", c)
	}
	for _, p := range r.Resumed {
		fmt.Fprintf(&b, "resumed stopped process %d in %s\n", p.Pid, p.Namespace)
	}
	for _, p := range r.Reset {
		fmt.Fprintf(&b, "reset the clock of process %d in %s\n", p.Pid, p.Namespace)
	}
	for _, q := range r.Qdiscs {
		fmt.Fprintf(&b, "removed netem qdisc %s\n", q)
	}
	for _, k := range r.Killed {
		fmt.Fprintf(&b, "left %s (%s) killed: restart it with its target (faultline nemesis heal)\n", k.Node, k.Namespace)
	}
	for _, j := range r.Journals {
		fmt.Fprintf(&b, "healed the outstanding faults of %s\n", j)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "left alone: %s\n", s)
	}
	if b.Len() == 0 {
		return "no fault to heal\n"
	}
	return b.String()
}

// HealJournal undoes every action the journal at path shows as applied and
// not recovered, from the residue journaled with it: it removes its
// iptables chains in namespaces that still exist, sends SIGCONT to the
// processes it stopped and resets the clocks it skewed (each only if the
// pid still names the same process), and removes its netem qdiscs. Killed
// nodes are reported, not restarted: that needs the target. Healed actions
// are marked recovered in the journal. It does not check that the journal's
// owner is dead: call it for a controller that is.
func HealJournal(ctx context.Context, path string) (Report, error) {
	var rep Report
	entries, err := ReadJournal(path)
	if err != nil {
		return rep, fmt.Errorf("heal: %w", err)
	}
	out := Outstanding(entries)
	if len(out) == 0 {
		return rep, nil
	}
	var at attacher
	var errs []error
	var healed []Entry
	// Newest first, the reverse of how they were applied.
	for i := len(out) - 1; i >= 0; i-- {
		e := out[i]
		if e.Residue == nil {
			healed = append(healed, e)
			continue
		}
		r, err := healResidue(ctx, &at, *e.Residue)
		rep.merge(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (journal id %d): %w", e.Fault, e.ID, err))
			continue
		}
		healed = append(healed, e)
	}
	if len(healed) > 0 {
		if err := markHealed(path, healed); err != nil {
			errs = append(errs, err)
		}
		rep.Journals = append(rep.Journals, path)
	}
	r, err := tidy(ctx, &at, out)
	rep.merge(r)
	if err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// tidy removes faultline's chains from every node of the runs the entries
// name where they hold no rule any more: what the dead controller's Setup
// made and its Cleanup would have removed.
func tidy(ctx context.Context, at *attacher, entries []Entry) (Report, error) {
	var rep Report
	runs := map[string]bool{}
	for _, e := range entries {
		if e.Residue == nil {
			continue
		}
		for _, c := range e.Residue.Chains {
			if id, _, ok := splitNamespace(c.Namespace); ok {
				runs[id] = true
			}
		}
	}
	var errs []error
	for id := range runs {
		c, err := local.Attach(id)
		if err != nil {
			continue // gone, and its chains with it
		}
		for _, n := range c.Nodes() {
			fw := firewall{node: n.Name, run: clusterRunner(c, n.Name)}
			rules, err := fw.rules(ctx)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			counts := chainRules(rules)
			busy := false
			for _, k := range counts {
				busy = busy || k > 0
			}
			if len(counts) == 0 || busy {
				continue
			}
			if _, err := fw.removeAll(ctx); err != nil {
				errs = append(errs, err)
				continue
			}
			ns, _ := c.Namespace(n.Name)
			rep.Chains = append(rep.Chains, ns+" "+RootChain+" (empty)")
		}
	}
	return rep, errors.Join(errs...)
}

func markHealed(path string, healed []Entry) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("heal: marking %s: %w", path, err)
	}
	j := &Journal{path: path, f: f}
	defer j.Close()
	for _, e := range healed {
		if err := j.Recover(e.ID, e.Fault, "heal"); err != nil {
			return err
		}
	}
	return nil
}

func healResidue(ctx context.Context, at *attacher, r Residue) (Report, error) {
	var rep Report
	var errs []error
	for _, c := range r.Chains {
		if c.Namespace == "" {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("chain %s on %s: no namespace to reach it by", c.Chain, c.Node))
			continue
		}
		run, err := at.runner(c.Namespace)
		if errors.Is(err, errNoNamespace) {
			continue // its rules went with it
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fw := firewall{node: c.Node, run: run}
		rules, err := fw.rules(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, ok := chainRules(rules)[c.Chain]; !ok {
			continue
		}
		if err := fw.remove(ctx, c.Chain); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Chains = append(rep.Chains, c.Namespace+" "+c.Chain)
	}
	for _, q := range r.Qdiscs {
		if q.Namespace == "" || q.Dev == "" {
			continue
		}
		run, err := at.runner(q.Namespace)
		if err != nil {
			continue
		}
		did, err := delQdisc(ctx, run, q.Dev)
		if err != nil {
			errs = append(errs, fmt.Errorf("netem on %s: %w", q.Node, err))
			continue
		}
		if did {
			rep.Qdiscs = append(rep.Qdiscs, q.Namespace+" "+q.Dev)
		}
	}
	for _, p := range r.Stopped {
		did, err := p.cont()
		if err != nil {
			errs = append(errs, err)
		}
		if did {
			rep.Resumed = append(rep.Resumed, p)
		}
	}
	for _, p := range r.Skewed {
		if _, ok := p.alive(); !ok {
			continue
		}
		did, err := resetSkew(p.Pid)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
		if did {
			rep.Reset = append(rep.Reset, p)
		}
	}
	for _, k := range r.Killed {
		if k.Namespace != "" {
			if _, err := at.runner(k.Namespace); err != nil {
				continue // the node is gone
			}
		}
		rep.Killed = append(rep.Killed, k)
	}
	return rep, errors.Join(errs...)
}

// resetSkew resets pid's clock if it is skewed.
func resetSkew(pid int) (bool, error) {
	st, err := clockskew.Inspect(pid)
	if errors.Is(err, clockskew.ErrNoProcess) || errors.Is(err, clockskew.ErrUnsupported) {
		return false, nil // gone, or cannot have been skewed
	}
	if err != nil {
		return false, fmt.Errorf("reading the clock skew of pid %d: %w", pid, err)
	}
	if !st.Skewed {
		return false, nil
	}
	if err := clockskew.Reset(pid); err != nil && !errors.Is(err, clockskew.ErrNoProcess) {
		return false, err
	}
	return true, nil
}

// HealLeftovers undoes every fault faultline may have left on this host:
// first the outstanding actions of every journal (JournalFile) under
// storeDir whose owner is dead, then, journal or not, in every faultline
// namespace of a run that no live controller owns (detached `cluster up`
// clusters included): faultline's iptables chains, stopped processes,
// skewed clocks and faultline's netem. A run whose controller is alive is
// left alone: it heals its own faults. storeDir may be empty (sweep only).
func HealLeftovers(ctx context.Context, storeDir string) (Report, error) {
	var rep Report
	var errs []error
	if storeDir != "" {
		paths, err := findJournals(storeDir)
		if err != nil {
			errs = append(errs, err)
		}
		me := self()
		for _, p := range paths {
			entries, err := ReadJournal(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out := Outstanding(entries)
			if len(out) == 0 {
				continue
			}
			if o := out[len(out)-1].Owner; o != nil && *o != me && o.Alive() {
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: its controller (pid %d) is alive", p, o.Pid))
				continue
			}
			r, err := HealJournal(ctx, p)
			rep.merge(r)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	r, err := sweep(ctx)
	rep.merge(r)
	if err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// findJournals finds journals in storeDir, a few levels deep
// (store/<test>/<time>/, store/cluster/), without following links
// (store/latest).
func findJournals(storeDir string) ([]string, error) {
	var out []string
	root := filepath.Clean(storeDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		if d.IsDir() && strings.Count(strings.TrimPrefix(p, root), string(filepath.Separator)) > 3 {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == JournalFile {
			out = append(out, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("heal: looking for journals in %s: %w", storeDir, err)
	}
	return out, nil
}

// sweep removes faultline's faults from every node of every run no live
// controller owns, whatever the journals say.
func sweep(ctx context.Context) (Report, error) {
	var rep Report
	if os.Geteuid() != 0 {
		return rep, errors.New("heal: sweeping faultline's namespaces needs root")
	}
	ids, err := local.RunIDs()
	if err != nil {
		return rep, fmt.Errorf("heal: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if owner, alive := local.RunOwner(id); alive && !owner.Detached && owner.Pid != os.Getpid() {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("run %s: its controller (pid %d) is alive", id, owner.Pid))
			continue
		}
		c, err := local.Attach(id)
		if err != nil {
			continue // no namespaces left
		}
		r, err := SweepCluster(ctx, c)
		rep.merge(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

// SweepCluster removes faultline's faults from every node of c, journal or
// not: faultline's iptables chains, stopped processes (SIGCONT), skewed
// clocks and faultline's netem. Killed services it cannot restart: that
// needs the target.
func SweepCluster(ctx context.Context, c *local.Cluster) (Report, error) {
	var rep Report
	var errs []error
	for _, n := range c.Nodes() {
		r, err := sweepNode(ctx, c, n.Name)
		rep.merge(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

func sweepNode(ctx context.Context, c *local.Cluster, node string) (Report, error) {
	var rep Report
	var errs []error
	ns, _ := c.Namespace(node)
	fw := firewall{node: node, run: clusterRunner(c, node)}
	chains, err := fw.removeAll(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	slices.Sort(chains)
	for _, ch := range chains {
		rep.Chains = append(rep.Chains, ns+" "+ch)
	}
	if did, err := delQdisc(ctx, clusterRunner(c, node), "eth0"); err != nil {
		errs = append(errs, err)
	} else if did {
		rep.Qdiscs = append(rep.Qdiscs, ns+" eth0")
	}
	procs, err := nodeProcs(c, node)
	if err != nil {
		errs = append(errs, err)
	}
	for _, p := range procs {
		if did, err := resetSkew(p.Pid); err != nil {
			errs = append(errs, err)
		} else if did {
			rep.Reset = append(rep.Reset, p)
		}
		if state, ok := p.alive(); ok && state == 'T' {
			if err := syscall.Kill(p.Pid, syscall.SIGCONT); err == nil {
				rep.Resumed = append(rep.Resumed, p)
			}
		}
	}
	return rep, errors.Join(errs...)
}
