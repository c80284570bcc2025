package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/faultline-dev/faultline/controller"
	"github.com/faultline-dev/faultline/nemesis"
	"github.com/faultline-dev/faultline/workloads"
)

func init() {
	def := controller.DefaultPlan()
	var (
		planFile    string
		p           = def
		cf          clusterFlags
		timeLimit   time.Duration
		opTimeout   time.Duration
		recovery    time.Duration
		nemInterval time.Duration
		faultLease  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "Run a test: set up a cluster, drive a workload, record, check",
		Long: `Run one test end to end: stand up a cluster of the target (on local hosts:
network namespaces on this machine, which needs root; or on real machines over
SSH with --control ssh), drive a concurrent workload at it, stream every
operation to store/<name>/<time>/history.jsonl, then heal, wait for the
cluster to recover, tear down, collect the nodes' logs, check the history and
write results.json. store/latest points at the newest run that started.

The default is the main job: a 5-node etcd cluster and the register workload
(independent CAS registers, checked per key for linearizability), no faults.

Over SSH, every node is connected to and its host key verified before
anything is uploaded or started; faultline installs its own binary as the
node agent (once per build, under /var/lib/faultline) and needs nothing else
for etcd. An existing cluster (already installed and running, e.g. by
systemd) is tested with --target-opt existing=true and how it is managed
(see 'faultline list targets').

Faults are applied by each node's agent and held under a lease
(--fault-lease) that the controller renews: if the controller dies or loses
the network, the nodes heal themselves when it runs out; 'faultline heal'
heals at once.

A plan can come from a YAML file (-c plan.yaml) with the same fields as
plan.json (name, target, workload, control, nodes, nodes-file, concurrency,
rate, time-limit, seed, store, op-timeout, recovery-timeout, target-options,
control-options, nemesis, nemesis-interval, fault-lease); flags given on the
command line override it.

Ctrl-C stops the workload, tears the cluster down and still checks what was
recorded (exit 3). Exit codes: 0 valid, 1 invalid, 2 unknown, 3 error.`,
		Example: `  faultline run                              # 5-node etcd, register workload, 30 s, no faults
  faultline run --nemesis partition,kill,pause,clock --nemesis-interval 5s
  faultline run --read-consistency serializable --nemesis partition   # finds stale reads
  faultline run --control ssh --nodes-file nodes --ssh-key ~/.ssh/id_ed25519
  faultline run -c plan.yaml --seed 42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			plan := def
			if planFile != "" {
				var err error
				if plan, err = controller.LoadPlan(planFile); err != nil {
					return withCode(exitError, err)
				}
			}
			// Flags override the file only where given.
			if err := cf.apply(cmd, &plan); err != nil {
				return withCode(exitError, err)
			}
			cmd.Flags().Visit(func(f *pflag.Flag) {
				switch f.Name {
				case "name":
					plan.Name = p.Name
				case "workload":
					plan.Workload = p.Workload
				case "concurrency":
					plan.Concurrency = p.Concurrency
				case "rate":
					plan.Rate = p.Rate
				case "time-limit":
					plan.TimeLimit = controller.Duration(timeLimit)
				case "seed":
					plan.Seed = p.Seed
				case "store":
					plan.Store = p.Store
				case "op-timeout":
					plan.OpTimeout = controller.Duration(opTimeout)
				case "recovery-timeout":
					plan.RecoveryTimeout = controller.Duration(recovery)
				case "nemesis":
					plan.Nemesis = p.Nemesis
				case "nemesis-interval":
					plan.NemesisInterval = controller.Duration(nemInterval)
				case "nemesis-overlap":
					plan.NemesisOverlap = p.NemesisOverlap
				case "fault-lease":
					plan.FaultLease = controller.Duration(faultLease)
				}
			})
			return runTest(cmd, plan)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&planFile, "config", "c", "", "YAML plan file (flags override it)")
	fl.StringVar(&p.Name, "name", def.Name, "test name (store/<name>/…; default TARGET-WORKLOAD)")
	cf.register(cmd, def)
	fl.StringVar(&p.Workload, "workload", def.Workload, "workload: "+strings.Join(workloads.Names(), ", "))
	fl.IntVar(&p.Concurrency, "concurrency", def.Concurrency, "number of concurrent workers")
	fl.Float64Var(&p.Rate, "rate", def.Rate, "total operations per second (0: as fast as the cluster answers)")
	fl.DurationVar(&timeLimit, "time-limit", time.Duration(def.TimeLimit), "how long the workload runs")
	fl.Int64Var(&p.Seed, "seed", def.Seed, "seed of the operation (and fault) schedule")
	fl.StringVar(&p.Store, "store", def.Store, "store directory")
	fl.DurationVar(&opTimeout, "op-timeout", time.Duration(def.OpTimeout), "per-operation timeout; a timed-out op is recorded as info")
	fl.DurationVar(&recovery, "recovery-timeout", time.Duration(def.RecoveryTimeout), "how long the final phase waits for the cluster to answer again")
	fl.StringSliceVar((*[]string)(&p.Nemesis), "nemesis", nil, "faults to schedule, comma-separated, each FAULT or FAULT:PARAM:… (partition:halves, kill:one, packet:loss=0.2; see faultline list): "+strings.Join(nemesis.Names(), ", "))
	fl.DurationVar(&nemInterval, "nemesis-interval", time.Duration(def.NemesisInterval), "time between fault changes")
	fl.BoolVar(&p.NemesisOverlap, "nemesis-overlap", false, "give each fault its own timeline, so faults overlap (a partition while a node is paused)")
	fl.DurationVar(&faultLease, "fault-lease", time.Duration(def.FaultLease), "how long a node's agent holds a fault without hearing from the controller (0: until healed)")
	_ = cmd.RegisterFlagCompletionFunc("workload", fixedCompletions(workloads.Names()))
	_ = cmd.RegisterFlagCompletionFunc("nemesis", listCompletions(nemesis.Names(), nemesis.Completions))
	rootCmd.AddCommand(cmd)
}

func runTest(cmd *cobra.Command, plan controller.Plan) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// A second Ctrl-C is handled by the default handler again.
		stop()
	}()
	stderr := cmd.ErrOrStderr()
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	res, err := controller.Run(ctx, plan, controller.Options{Progress: stderr, Terminal: tty})
	if res != nil && res.Outcome.Checked != "" {
		out := cmd.OutOrStdout()
		printText(out, res.Dir+"/history.jsonl", res.Outcome, nil)
		fmt.Fprintln(out, runSummary(res))
		fmt.Fprintf(out, "  store: %s\n", res.Dir)
	}
	if err != nil {
		return withCode(exitError, err)
	}
	if res.Interrupted {
		return withCode(exitError, fmt.Errorf("interrupted: the cluster was torn down and the %d ops recorded were checked (%s)", res.Ops, res.Results.Valid))
	}
	return withCode(res.Results.Valid.ExitCode(), nil)
}

// runSummary is the run's line of the text output: its counts, and the
// workload's duration and throughput as results.json gives them (the
// final phase's operations are counted, but not in the throughput).
func runSummary(res *controller.Result) string {
	return fmt.Sprintf("  run: %s in %s, %.0f ops/s; the cluster answered again %s after the workload; the verdict came %s after the final phase",
		countsText(res.Outcome.Counts), res.Duration.Round(time.Millisecond), res.OpsPerSecond, res.Recovery.Round(time.Millisecond), res.Verdict.Round(time.Millisecond))
}
