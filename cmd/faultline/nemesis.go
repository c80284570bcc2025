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
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/control/local"
	"github.com/faultline-dev/faultline/nemesis"
	"github.com/faultline-dev/faultline/targets/etcd"
)

// `faultline nemesis …` injects one fault by hand into the cluster that
// `faultline cluster up` made, journaling it in <store>/cluster/ so that
// `faultline nemesis heal` (or `faultline heal`) can undo it later, from
// another process.

func init() {
	listSections = append(listSections, listSection{"nemeses", "faults (faultline run --nemesis, faultline nemesis)", func(w io.Writer) {
		for _, s := range nemesis.All() {
			fmt.Fprintf(w, "  %s\t%s\n", s.Name, s.Doc)
		}
	}})

	var (
		store    string
		duration time.Duration
		seed     int64
	)
	cmd := &cobra.Command{
		Use:   "nemesis",
		Short: "Inject a fault by hand into the cluster 'cluster up' made, or heal it",
		Long: `Inject one fault into the local cluster that 'faultline cluster up' started
(read from <store>/cluster/state.json). The fault stays in effect after the
command returns, unless --duration is given; 'faultline nemesis heal' undoes
it. Every fault is journaled in <store>/cluster/` + nemesis.JournalFile + ` before it is
applied.

Nodes are chosen with --nodes: one, minority, majority, primaries, all, or
node names (n1,n3). Random choices use --seed, which is printed.`,
	}
	cmd.PersistentFlags().StringVar(&store, "store", "store", "store directory of 'cluster up'")
	cmd.PersistentFlags().DurationVar(&duration, "duration", 0, "recover after this long (or on Ctrl-C) instead of leaving the fault in effect")
	cmd.PersistentFlags().Int64Var(&seed, "seed", 0, "seed for random choices (0: a random seed)")

	run := func(cmd *cobra.Command, args nemesis.Args) error {
		return injectByHand(cmd.OutOrStdout(), store, args, duration, seed)
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
	nodesFlag(partition, "one")

	kill := &cobra.Command{
		Use:   "kill",
		Short: "SIGKILL the etcd member on some nodes ('nemesis heal' restarts it)",
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
		Short: "SIGSTOP the etcd member on some nodes ('nemesis heal' resumes it)",
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
		Short: "Skew the clocks of every process on some nodes (vDSO patch)",
		Long: `Skew the clocks of every process on the chosen nodes: --bump shifts them by
an offset (negative for the past), --strobe flips them between +offset and
the real time every --period, --reset puts them back. A strobe lasts only
while this command runs (use --duration, or Ctrl-C).`,
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
				if duration == 0 {
					duration = 100 * 365 * 24 * time.Hour // until Ctrl-C
				}
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
tc netem where the kernel has it, else an NFQUEUE delayer that runs in this
command, which then holds until --duration or Ctrl-C.`,
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

	heal := &cobra.Command{
		Use:   "heal",
		Short: "Undo every fault in the cluster 'cluster up' made",
		Long: `Undo every fault in the cluster: the outstanding faults of its journal, then,
journal or not, faultline's iptables chains, stopped processes and skewed
clocks in its nodes; members that a kill left dead are restarted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return healByHand(cmd.OutOrStdout(), store)
		},
	}
	cmd.AddCommand(partition, kill, pause, clock, packet, heal)
	rootCmd.AddCommand(cmd)
}

// handCluster is the cluster `cluster up` made, attached to.
type handCluster struct {
	state   *clusterState
	cluster *local.Cluster
	target  *etcd.Target
	journal string
}

func attachByHand(store string) (*handCluster, error) {
	st, err := loadClusterState(store)
	if errors.Is(err, os.ErrNotExist) {
		return nil, withCode(exitError, fmt.Errorf("no cluster: %s does not exist (start one with 'faultline cluster up --store %s')", clusterStatePath(store), store))
	}
	if err != nil {
		return nil, withCode(exitError, err)
	}
	c, err := local.Attach(st.RunID)
	if err != nil {
		return nil, withCode(exitError, fmt.Errorf("cluster %s from %s: %w", st.RunID, clusterStatePath(store), err))
	}
	h := &handCluster{state: st, cluster: c, journal: filepath.Join(clusterDir(store), nemesis.JournalFile)}
	if st.Target == "etcd" {
		if h.target, err = etcd.New(c, etcd.Options{Dir: st.Dir}); err != nil {
			return nil, withCode(exitError, err)
		}
	}
	return h, nil
}

func injectByHand(out io.Writer, store string, args nemesis.Args, duration time.Duration, seed int64) error {
	h, err := attachByHand(store)
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
	env := &nemesis.Env{Cluster: h.cluster, Logf: func(f string, a ...any) { fmt.Fprintf(out, f+"\n", a...) }}
	if h.target != nil {
		env.DB = h.target
	}
	j, err := nemesis.OpenJournal(h.journal)
	if err != nil {
		return withCode(exitError, err)
	}
	defer j.Close()
	fl := nemesis.NewFailer(spec.New(env), j)
	ctx, cancel := signalContext(time.Minute)
	defer cancel()
	act, err := fl.Inject(ctx, args, rand.New(rand.NewPCG(uint64(seed), 0)))
	if err != nil {
		return withCode(exitError, fmt.Errorf("nemesis %s: %w", args.Fault(), err))
	}
	fmt.Fprintf(out, "start-%s %s (seed %d, cluster %s)\n", args.Fault(), describe(act), seed, h.state.RunID)

	// A strobe or an NFQUEUE delayer lives in this process: hold.
	hold := duration
	if v, ok := act.Value().(map[string]any); ok && hold == 0 && v["method"] == nemesis.DelayNfqueue {
		hold = 100 * 365 * 24 * time.Hour
	}
	if hold == 0 {
		fmt.Fprintf(out, "in effect until: faultline nemesis heal --store %s\n", store)
		return nil
	}
	wait, stop := signalContext(hold)
	defer stop()
	if duration == 0 {
		fmt.Fprintln(out, "holding: the fault runs in this process; Ctrl-C recovers it")
	}
	<-wait.Done()
	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	if err := fl.Recover(rctx); err != nil {
		return withCode(exitError, fmt.Errorf("nemesis %s: %w (run 'faultline nemesis heal --store %s')", args.Fault(), err, store))
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

func healByHand(out io.Writer, store string) error {
	h, err := attachByHand(store)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext(2 * time.Minute)
	defer cancel()
	var errs []error
	rep, err := nemesis.HealJournal(ctx, h.journal)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	killed := rep.Killed
	rep.Killed = nil // restarted below
	fmt.Fprint(out, strings.ReplaceAll(rep.String(), "no fault to heal\n", ""))
	swept, err := nemesis.SweepCluster(ctx, h.cluster)
	if err != nil {
		errs = append(errs, err)
	}
	if !swept.Empty() {
		fmt.Fprint(out, swept)
	}
	// Members a kill left dead: start them again.
	restarted := 0
	if h.target != nil {
		for _, k := range killed {
			if err := h.target.Start(ctx, k.Node); err != nil && !strings.Contains(err.Error(), "already running") {
				errs = append(errs, err)
				continue
			}
			restarted++
			fmt.Fprintf(out, "restarted the etcd member on %s\n", k.Node)
		}
	}
	if rep.Empty() && swept.Empty() && len(killed) == 0 {
		fmt.Fprintln(out, "no fault to heal")
	}
	if err := errors.Join(errs...); err != nil {
		return withCode(exitError, fmt.Errorf("nemesis heal: %w", err))
	}
	return nil
}
