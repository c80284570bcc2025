package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/controller"
	"github.com/faultline-dev/faultline/nemesis"
)

// `faultline nemesis …` injects one fault by hand into the cluster that
// `faultline cluster up` made, journaling it in <store>/cluster/ so that
// `faultline nemesis heal` (or `faultline heal`) can undo it later, from
// another process.

func init() {
	listSections = append(listSections, listSection{"nemeses", "faults (faultline run --nemesis, faultline nemesis)", func(w io.Writer) {
		for _, s := range nemesis.All() {
			needs := ""
			for i, n := range s.Needs {
				if i > 0 {
					needs += ", "
				}
				needs += string(n)
			}
			if s.NeedsTarget {
				if needs != "" {
					needs += ", "
				}
				needs += "a target"
			}
			if needs != "" {
				needs = " (needs " + needs + ")"
			}
			fmt.Fprintf(w, "  %s\t%s%s\n", s.Name, s.Doc, needs)
			fmt.Fprintf(w, "      %s:PARAM:…  %s\n", s.Name, nemesis.ParamHelp(s.Name))
		}
		fmt.Fprintf(w, "  In a schedule (--nemesis, nemesis: in a plan), each fault is FAULT or FAULT:PARAM:…,\n  e.g. --nemesis partition:halves,kill:one,packet:loss=0.2:nodes=all; what a fault\n  leaves open is drawn from --seed each time. Every fault is injected once before\n  any is injected again.\n")
	}})

	var (
		store    string
		duration time.Duration
		lease    time.Duration
		seed     int64
	)
	cmd := &cobra.Command{
		Use:   "nemesis",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
		Short: "Inject a fault by hand into the cluster 'cluster up' made, or heal it",
		Long: `Inject one fault into the cluster that 'faultline cluster up' started (any
target, any backend; read from <store>/cluster/cluster.json). The fault stays
in effect after the command returns, held by the nodes' agents, unless
--duration or --fault-lease is given; 'faultline nemesis heal' undoes it.
Every fault is journaled in <store>/cluster/` + nemesis.JournalFile + ` before it is
applied.

Nodes are chosen with --nodes: one, minority, majority, primaries, all, or
node names (n1,n3). Random choices use --seed, which is printed.`,
	}
	cmd.PersistentFlags().StringVar(&store, "store", "store", "store directory of 'cluster up'")
	cmd.PersistentFlags().DurationVar(&duration, "duration", 0, "recover after this long (or on Ctrl-C) instead of leaving the fault in effect")
	cmd.PersistentFlags().DurationVar(&lease, "fault-lease", 0, "the nodes heal the fault by themselves after this long (0: it stays until 'nemesis heal')")
	cmd.PersistentFlags().Int64Var(&seed, "seed", 0, "seed for random choices (0: a random seed)")

	run := func(cmd *cobra.Command, args nemesis.Args) error {
		return injectByHand(cmd.OutOrStdout(), store, args, duration, lease, seed)
	}
	// Each command has its own --nodes variable: a shared one would start
	// with the default of whichever command defined its flag last.
	nodes := map[*cobra.Command]*string{}
	nodesFlag := func(c *cobra.Command, def string) {
		nodes[c] = c.Flags().String("nodes", def, "nodes: one, minority, majority, primaries, all, or names like n1,n2")
	}
	selector := func(c *cobra.Command) (nemesis.Selector, error) {
		s, err := nemesis.ParseSelector(*nodes[c])
		if err != nil {
			return s, withCode(exitError, fmt.Errorf("--nodes: %w", err))
		}
		return s, nil
	}

	var grudge string
	partition := &cobra.Command{
		Use:   "partition",
		Short: "Cut the network between nodes (iptables in each node)",
		Long: `Cut the network with a grudge: one (isolate a random node), halves,
random-halves, majority (a random majority apart from the rest), minority
(each node of a random minority alone), majorities-ring (each node sees a
different majority), bridge (two halves joined by one node), primaries (each
leader alone), isolate (the --nodes apart from the rest), or an explicit
grudge: NODE:PEER,PEER;… (NODE cannot hear from the PEERs; links are cut both
ways).`,
		Example: `  faultline nemesis partition --grudge majorities-ring
  faultline nemesis partition --grudge isolate --nodes n1,n2
  faultline nemesis partition --grudge 'n1:n2,n3;n4:n5' --duration 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a := nemesis.PartitionArgs{}
			if strings.Contains(grudge, ":") {
				g, err := nemesis.ParseGrudge(grudge)
				if err != nil {
					return withCode(exitError, fmt.Errorf("--grudge: %w", err))
				}
				a.Grudge, a.Explicit = nemesis.GrudgeExplicit, g
			} else {
				k, err := nemesis.ParseGrudgeKind(grudge)
				if err != nil {
					return withCode(exitError, fmt.Errorf("--grudge: %w", err))
				}
				a.Grudge = k
			}
			if a.Grudge == nemesis.GrudgeIsolate {
				s, err := selector(cmd)
				if err != nil {
					return err
				}
				a.Nodes = s
			}
			return run(cmd, a)
		},
	}
	partition.Flags().StringVar(&grudge, "grudge", "one", "how to cut the network (see above)")
	_ = partition.RegisterFlagCompletionFunc("grudge", fixedCompletions(grudgeKindNames()))
	nodesFlag(partition, "one")

	kill := &cobra.Command{
		Use:   "kill",
		Short: "SIGKILL the target on some nodes ('nemesis heal' restarts it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := selector(cmd)
			if err != nil {
				return err
			}
			return run(cmd, nemesis.KillArgs{Nodes: s})
		},
	}
	nodesFlag(kill, "one")
	pause := &cobra.Command{
		Use:   "pause",
		Short: "SIGSTOP the target's processes on some nodes ('nemesis heal' resumes them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := selector(cmd)
			if err != nil {
				return err
			}
			return run(cmd, nemesis.PauseArgs{Nodes: s})
		},
	}
	nodesFlag(pause, "one")

	var bump, strobe, period time.Duration
	var reset bool
	clock := &cobra.Command{
		Use:   "clock",
		Short: "Skew the clocks of the target's processes on some nodes (vDSO patch)",
		Long: `Skew the clocks of the target's processes on the chosen nodes: --bump shifts
them by an offset (negative for the past), --strobe flips them between +offset
and the real time every --period (the node's agent keeps flipping until
healed), --reset puts them back.`,
		Example: `  faultline nemesis clock --bump 60s --nodes n1
  faultline nemesis clock --strobe 200ms --period 50ms --nodes all --duration 30s
  faultline nemesis clock --reset --nodes all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := selector(cmd)
			if err != nil {
				return err
			}
			a := nemesis.ClockArgs{Nodes: s}
			switch {
			case reset && bump == 0 && strobe == 0:
				a.Mode = nemesis.ClockReset
			case bump != 0 && strobe == 0 && !reset:
				a.Mode, a.Offset = nemesis.ClockBump, bump
			case strobe != 0 && bump == 0 && !reset:
				a.Mode, a.Offset, a.Period = nemesis.ClockStrobe, strobe, period
			default:
				return withCode(exitError, errors.New("clock: give one of --bump, --strobe or --reset"))
			}
			return run(cmd, a)
		},
	}
	clock.Flags().DurationVar(&bump, "bump", 0, "shift the clocks by this offset")
	clock.Flags().DurationVar(&strobe, "strobe", 0, "flip the clocks between +this offset and the real time")
	clock.Flags().DurationVar(&period, "period", 100*time.Millisecond, "the strobe's flip period")
	clock.Flags().BoolVar(&reset, "reset", false, "put the clocks back to the real time")
	nodesFlag(clock, "one")

	var loss float64
	var delay, jitter time.Duration
	var rate, method string
	packet := &cobra.Command{
		Use:   "packet",
		Short: "Lose, rate-limit or delay packets the chosen nodes send to the others",
		Long: `Lose (--loss, a probability), rate-limit (--rate, bytes per second to each
peer, e.g. 64KiB) or delay (--delay ± --jitter) the packets the chosen nodes
send to the other nodes; the controller's traffic is not touched. Delay uses
tc netem where the kernel has it, else an NFQUEUE delayer inside the node's
agent.`,
		Example: `  faultline nemesis packet --loss 0.2 --delay 50ms --jitter 10ms --nodes all --duration 1m`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := selector(cmd)
			if err != nil {
				return err
			}
			a := nemesis.PacketArgs{Nodes: s, Loss: loss, Delay: delay, Jitter: jitter, DelayMethod: method}
			if rate != "" {
				b, err := humanize.ParseBytes(rate)
				if err != nil {
					return withCode(exitError, fmt.Errorf("--rate %q: %w", rate, err))
				}
				a.Rate = int64(b)
			}
			if a.Loss == 0 && a.Rate == 0 && a.Delay == 0 && a.Jitter == 0 {
				return withCode(exitError, errors.New("packet: give --loss, --rate or --delay"))
			}
			return run(cmd, a)
		},
	}
	packet.Flags().Float64Var(&loss, "loss", 0, "probability that a packet is lost, in [0, 1)")
	packet.Flags().StringVar(&rate, "rate", "", "bytes per second to each peer, e.g. 64KiB")
	packet.Flags().DurationVar(&delay, "delay", 0, "delay each packet by this much")
	packet.Flags().DurationVar(&jitter, "jitter", 0, "± this much, uniformly")
	packet.Flags().StringVar(&method, "delay-method", "", "netem or nfqueue (default: netem if the kernel has it)")
	nodesFlag(packet, "all")

	unplug := &cobra.Command{
		Use:   "unplug",
		Short: "Disconnect containers from their network ('nemesis heal' connects them again; --control docker)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := selector(cmd)
			if err != nil {
				return err
			}
			return run(cmd, nemesis.UnplugArgs{Nodes: s})
		},
	}
	nodesFlag(unplug, "one")

	heal := &cobra.Command{
		Use:   "heal",
		Short: "Undo every fault in the cluster 'cluster up' made",
		Long: `Undo every fault in the cluster: each node's agent undoes what its ledger
holds (the outstanding faults of the journal), then, ledger or not,
faultline's iptables chains, netem and skewed clocks on its nodes; services
that a kill left dead are restarted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return healByHand(cmd.OutOrStdout(), store)
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List the faults in effect in the cluster 'cluster up' made",
		Long: `List the faults in effect: those the journal shows as injected and not
recovered, and what each node's agent holds (a lease that ran out, or a
heal, may have undone a fault the journal still shows).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return statusByHand(cmd.OutOrStdout(), store)
		},
	}
	cmd.AddCommand(partition, kill, pause, clock, packet, unplug, status, heal)
	rootCmd.AddCommand(cmd)
}

func attachByHand(ctx context.Context, store string) (*controller.Attached, error) {
	dir := controller.ClusterDir(store)
	a, err := controller.Attach(ctx, dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, withCode(exitError, fmt.Errorf("no cluster: %s does not exist (start one with 'faultline cluster up --store %s')", filepath.Join(dir, controller.ClusterFile), store))
	}
	if err != nil {
		return nil, withCode(exitError, err)
	}
	return a, nil
}

func injectByHand(out io.Writer, store string, args nemesis.Args, duration, lease time.Duration, seed int64) error {
	ctx, cancel := signalContext(time.Minute)
	defer cancel()
	a, err := attachByHand(ctx, store)
	if err != nil {
		return err
	}
	spec, err := nemesis.Lookup(args.Fault())
	if err != nil {
		return withCode(exitError, err)
	}
	if seed == 0 {
		seed = rand.Int64()
	}
	agents := a.Agents(lease)
	env := &nemesis.Env{Cluster: a.Cluster, Agents: agents, DB: a.DB, Logf: func(f string, args ...any) { fmt.Fprintf(out, f+"\n", args...) }}
	if _, err := nemesis.Check(ctx, a.Cluster, agents, []string{args.Fault()}, a.DB != nil); err != nil {
		agents.Close(ctx)
		return withCode(exitError, err)
	}
	ref := a.Cluster.Ref()
	j, err := nemesis.OpenJournal(filepath.Join(a.Dir, nemesis.JournalFile), &ref, agents.Session())
	if err != nil {
		agents.Close(ctx)
		return withCode(exitError, err)
	}
	defer j.Close()
	fl := nemesis.NewFailer(spec.New(env), j)
	act, err := fl.Inject(ctx, args, rand.New(rand.NewPCG(uint64(seed), 0)))
	if err != nil {
		agents.Close(ctx)
		return withCode(exitError, err)
	}
	fmt.Fprintf(out, "start-%s %s (seed %d, cluster %s)\n", args.Fault(), describe(act), seed, a.Cluster.RunID())
	if duration == 0 {
		// The nodes' agents hold the fault (a strobe or a delayer in
		// their own processes) until healed, or until the lease runs out.
		agents.Detach()
		if lease > 0 {
			fmt.Fprintf(out, "in effect for up to %v (the lease), or until: faultline nemesis heal --store %s\n", lease, store)
		} else {
			fmt.Fprintf(out, "in effect until: faultline nemesis heal --store %s\n", store)
		}
		return nil
	}
	wait, stop := signalContext(duration)
	defer stop()
	<-wait.Done()
	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	if err := fl.Recover(rctx); err != nil {
		agents.Detach()
		return withCode(exitError, fmt.Errorf("%w (run 'faultline nemesis heal --store %s')", err, store))
	}
	if err := agents.Close(rctx); err != nil {
		return withCode(exitError, err)
	}
	fmt.Fprintf(out, "stop-%s\n", args.Fault())
	return nil
}

func describe(a nemesis.Action) string {
	b, err := json.Marshal(a.Value())
	if err != nil {
		return fmt.Sprint(a.Value())
	}
	return string(b)
}

func statusByHand(out io.Writer, store string) error {
	ctx, cancel := signalContext(time.Minute)
	defer cancel()
	a, err := attachByHand(ctx, store)
	if err != nil {
		return err
	}
	entries, err := nemesis.ReadJournal(filepath.Join(a.Dir, nemesis.JournalFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return withCode(exitError, err)
	}
	in := nemesis.Outstanding(entries)
	if len(in) == 0 {
		fmt.Fprintln(out, "journal: no fault in effect")
	}
	for _, e := range in {
		fmt.Fprintf(out, "journal: %s %s since %s (id %d)\n", e.Fault, e.Action, e.Time.Local().Format(time.DateTime), e.ID)
	}
	var errs []error
	for _, n := range a.Cluster.Nodes() {
		cmd := control.AgentCmd(a.Cluster, n.Name, "held", "--dir", a.Cluster.NodeDir(n.Name))
		b, err := a.Cluster.Exec(ctx, n.Name, cmd)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) == 1 && lines[0] == "" {
			fmt.Fprintf(out, "%s: its agents hold nothing\n", n.Name)
			continue
		}
		for _, l := range lines {
			fmt.Fprintf(out, "%s: %s\n", n.Name, l)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return withCode(exitError, err)
	}
	return nil
}

func healByHand(out io.Writer, store string) error {
	ctx, cancel := signalContext(2 * time.Minute)
	defer cancel()
	a, err := attachByHand(ctx, store)
	if err != nil {
		return err
	}
	var errs []error
	rep, err := nemesis.HealJournal(ctx, filepath.Join(a.Dir, nemesis.JournalFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	killed := rep.Killed
	rep.Killed = nil // restarted below
	// Journal or not, every fault of faultline's on the nodes.
	swept, err := nemesis.HealNodes(ctx, a.Cluster, nemesis.HealOptions{Sweep: true, ContStopped: a.Cluster.Backend() == "local"})
	if err != nil {
		errs = append(errs, err)
	}
	rep.Merge(swept)
	fmt.Fprint(out, rep)
	// Services a kill left dead: start them again.
	if a.DB != nil {
		for _, k := range slices.Compact(slices.Sorted(slices.Values(killed))) {
			if ps, err := a.DB.Processes(ctx, k); err == nil && len(ps) > 0 {
				continue
			}
			if err := a.DB.Start(ctx, k); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(out, "restarted the %s service on %s\n", a.Record.Target, k)
		}
	}
	if rep.Empty() && len(killed) == 0 {
		fmt.Fprintln(out, "no fault to heal")
	}
	if err := errors.Join(errs...); err != nil {
		return withCode(exitError, err)
	}
	return nil
}

func grudgeKindNames() []string {
	var out []string
	for _, k := range nemesis.GrudgeKinds {
		out = append(out, string(k))
	}
	return append(out, "primaries", "isolate")
}
