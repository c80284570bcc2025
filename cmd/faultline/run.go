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
	"github.com/faultline-dev/faultline/workloads"
)

func init() {
	def := controller.DefaultPlan()
	var (
		planFile, nodes string
		p               = def
		timeLimit       time.Duration
		opTimeout       time.Duration
		recovery        time.Duration
		nemInterval     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "Run a test: set up a cluster, drive a workload, record, check",
		Long: `Run one test end to end: stand up a cluster of the target on local hosts
(network namespaces on this machine; needs root), drive a concurrent workload
at it, stream every operation to store/<name>/<time>/history.jsonl, then heal,
wait for the cluster to recover, tear down, check the history and write
results.json. store/latest points at the newest run.

The default is the main job: a 5-node etcd cluster and the register workload
(independent CAS registers, checked per key for linearizability).

A plan can come from a YAML file (-c plan.yaml) with the same fields as
plan.json (name, target, workload, nodes, concurrency, rate, time-limit, seed,
store, op-timeout, recovery-timeout, read-consistency, isolation, upsert,
nemesis, nemesis-interval); flags given on the command line override it.

Ctrl-C stops the workload, tears the cluster down and still checks what was
recorded (exit 3). Exit codes: 0 valid, 1 invalid, 2 unknown, 3 error.`,
		Example: `  faultline run                              # 5-node etcd, register workload, 30 s
  faultline run --time-limit 2m --concurrency 20 --rate 500
  faultline run --read-consistency serializable
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
			var ferr error
			cmd.Flags().Visit(func(f *pflag.Flag) {
				switch f.Name {
				case "name":
					plan.Name = p.Name
				case "target":
					plan.Target = p.Target
				case "workload":
					plan.Workload = p.Workload
				case "nodes":
					ns, err := controller.ParseNodes(nodes)
					if err != nil {
						ferr = err
					}
					plan.Nodes = ns
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
				case "read-consistency":
					plan.ReadConsistency = p.ReadConsistency
				case "isolation":
					plan.Isolation = p.Isolation
				case "upsert":
					plan.Upsert = p.Upsert
				case "nemesis":
					plan.Nemesis = p.Nemesis
				case "nemesis-interval":
					plan.NemesisInterval = controller.Duration(nemInterval)
				}
			})
			if ferr != nil {
				return withCode(exitError, ferr)
			}
			return runTest(cmd, plan)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&planFile, "config", "c", "", "YAML plan file (flags override it)")
	fl.StringVar(&p.Name, "name", def.Name, "test name (store/<name>/…; default TARGET-WORKLOAD)")
	fl.StringVar(&p.Target, "target", def.Target, "system under test: "+strings.Join(controller.TargetNames(), ", "))
	fl.StringVar(&p.Workload, "workload", def.Workload, "workload: "+strings.Join(workloads.Names(), ", "))
	fl.StringVar(&nodes, "nodes", "5", "node count (n1..nN) or comma-separated names")
	fl.IntVar(&p.Concurrency, "concurrency", def.Concurrency, "number of concurrent workers")
	fl.Float64Var(&p.Rate, "rate", def.Rate, "total operations per second (0: as fast as the cluster answers)")
	fl.DurationVar(&timeLimit, "time-limit", time.Duration(def.TimeLimit), "how long the workload runs")
	fl.Int64Var(&p.Seed, "seed", def.Seed, "seed of the operation (and fault) schedule")
	fl.StringVar(&p.Store, "store", def.Store, "store directory")
	fl.DurationVar(&opTimeout, "op-timeout", time.Duration(def.OpTimeout), "per-operation timeout; a timed-out op is recorded as info")
	fl.DurationVar(&recovery, "recovery-timeout", time.Duration(def.RecoveryTimeout), "how long the final phase waits for the cluster to answer again")
	fl.StringVar(&p.ReadConsistency, "read-consistency", def.ReadConsistency, "etcd read mode: linearizable or serializable")
	fl.StringVar(&p.Isolation, "isolation", def.Isolation, "PostgreSQL isolation level: serializable, repeatable-read or read-committed")
	fl.StringVar(&p.Upsert, "upsert", def.Upsert, "PostgreSQL writes: update-insert (UPDATE, then INSERT if no row) or on-conflict (INSERT … ON CONFLICT DO UPDATE)")
	fl.StringSliceVar(&p.Nemesis, "nemesis", nil, "faults to schedule (comma-separated)")
	fl.DurationVar(&nemInterval, "nemesis-interval", time.Duration(def.NemesisInterval), "time between fault changes")
	_ = cmd.RegisterFlagCompletionFunc("target", fixedCompletions(controller.TargetNames()))
	_ = cmd.RegisterFlagCompletionFunc("workload", fixedCompletions(workloads.Names()))
	_ = cmd.RegisterFlagCompletionFunc("read-consistency", fixedCompletions([]string{"linearizable", "serializable"}))
	_ = cmd.RegisterFlagCompletionFunc("isolation", fixedCompletions([]string{"serializable", "repeatable-read", "read-committed"}))
	_ = cmd.RegisterFlagCompletionFunc("upsert", fixedCompletions([]string{"update-insert", "on-conflict"}))
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
		// Every op is two history events: its invocation and completion.
		ops := res.Ops / 2
		fmt.Fprintf(out, "  run: %d ops (%d history events) in %s, %.0f ops/s; the cluster answered again %s after the workload\n", ops, res.Ops, res.Duration.Round(time.Millisecond), float64(ops)/res.Duration.Seconds(), res.Recovery.Round(time.Millisecond))
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
