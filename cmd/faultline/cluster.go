package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/controller"
	"github.com/faultline-dev/faultline/nemesis"
)

// signalContext ends on Ctrl-C or SIGTERM, and after timeout.
func signalContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

func init() {
	cmd := &cobra.Command{
		Use:   "cluster",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
		Short: "Start or stop a cluster of any target for ad hoc work",
		Long: `'cluster up' starts a target's cluster (etcd by default, on local network
namespaces, or on SSH nodes with --control ssh) and leaves it running for ad
hoc work and for 'faultline nemesis', until 'cluster down'. Its record, data
and logs are under <store>/cluster/.`,
	}
	var store string
	var cf clusterFlags
	up := &cobra.Command{
		Use:   "up",
		Short: "Start a cluster and leave it running",
		Long: `Start a cluster of the target on the nodes and wait until it serves. It
prints the nodes and their client endpoints and records the cluster in
<store>/cluster/cluster.json for 'cluster down', 'faultline nemesis' and
'faultline heal'.`,
		Example: `  sudo faultline cluster up --nodes 5
  ETCDCTL_API=3 etcdctl --endpoints http://10.x.y.11:2379 put k v
  faultline cluster up --target postgres --nodes 1
  faultline cluster up --control ssh --nodes-file nodes --ssh-key ~/.ssh/id_ed25519`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			plan := controller.DefaultPlan()
			plan.Name = "cluster"
			if err := cf.apply(cmd, &plan); err != nil {
				return withCode(exitError, err)
			}
			return clusterUp(cmd.OutOrStdout(), cmd.ErrOrStderr(), store, plan)
		},
	}
	cf.register(up, controller.DefaultPlan())
	var purge bool
	down := &cobra.Command{
		Use:   "down",
		Short: "Tear down the cluster 'cluster up' made (or, without one, every leftover of this host's backends)",
		Long: `Tear down the cluster 'cluster up' made: faults healed, the target stopped
(an existing cluster is left running), its logs collected into
<store>/cluster/nodes, its data directories and nodes removed. With --purge,
<store>/cluster goes too (the record and the collected logs). Without a
cluster recorded, it removes every leftover of this host's backends.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return clusterDown(cmd.OutOrStdout(), store, purge)
		},
	}
	down.Flags().BoolVar(&purge, "purge", false, "also remove <store>/cluster: the record and the logs collected from the nodes")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster 'cluster up' made",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext(time.Minute)
			defer cancel()
			a, err := controller.Attach(ctx, controller.ClusterDir(store))
			if errors.Is(err, os.ErrNotExist) {
				return withCode(exitError, fmt.Errorf("no cluster is up under %s (start one with 'faultline cluster up --store %s')", store, store))
			}
			if err != nil {
				return withCode(exitError, err)
			}
			printCluster(cmd.OutOrStdout(), a)
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&store, "store", "store", "store directory")
	cmd.AddCommand(up, down, status)
	rootCmd.AddCommand(cmd)

	var healStore string
	heal := &cobra.Command{
		Use:   "heal",
		Short: "Undo every fault and remove every cluster that crashed faultline runs left behind",
		Long: `Undo what crashed faultline runs left, on any backend: first the faults of
every run under --store whose controller is dead (each node's agent undoes what
its ledger holds: iptables chains, stopped processes, skewed clocks, netem,
delayers), then the clusters of those runs, reached again from their records
(the target stopped, its logs collected into the run's directory, its data
directories, such as etcd's, removed, and the nodes' network namespaces or
containers removed; when the nodes are gone already, the data directories
still are, where they are on this host), then whatever this host's backends
find without a record (network namespaces and containers named by faultline,
and their directories under /var/lib/faultline/runs).
Runs whose controller is still alive, and clusters started with 'cluster up',
are left alone. Prints what it did, or "nothing to heal" (once).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext(3 * time.Minute)
			defer cancel()
			rep, err := controller.HealStore(ctx, healStore)
			return healAll(ctx, cmd.OutOrStdout(), rep, err, control.Backends())
		},
	}
	heal.Flags().StringVar(&healStore, "store", "store", "store directory whose runs to heal")
	rootCmd.AddCommand(heal)
}

// healAll prints what healing the store did (rep, err), then lets each
// backend sweep what it finds without a record; "nothing to heal" comes
// once, when nothing at all was healed or removed.
func healAll(ctx context.Context, out io.Writer, rep nemesis.Report, err error, backends []control.Backend) error {
	fmt.Fprint(out, rep)
	errs := []error{err}
	removed := 0
	for _, b := range backends {
		if b.Sweep == nil {
			continue
		}
		srep, err := b.Sweep(ctx, control.SweepOptions{})
		fmt.Fprint(out, srep)
		errs = append(errs, err)
		removed += len(srep.Removed)
	}
	if rep.Empty() && len(rep.Journals) == 0 && removed == 0 {
		fmt.Fprintln(out, "nothing to heal")
	}
	if err := errors.Join(errs...); err != nil {
		return withCode(exitError, err)
	}
	return nil
}

func clusterUp(out, progress io.Writer, store string, plan controller.Plan) error {
	ctx, cancel := signalContext(5 * time.Minute)
	defer cancel()
	dir, err := filepath.Abs(controller.ClusterDir(store))
	if err != nil {
		return withCode(exitError, err)
	}
	start := time.Now()
	a, err := controller.Up(ctx, plan, dir, progress)
	if err != nil {
		return withCode(exitError, err)
	}
	fmt.Fprintf(out, "%s cluster %s up in %v (%s nodes)\n", a.Record.Target, a.Cluster.RunID(), time.Since(start).Round(time.Millisecond), a.Cluster.Backend())
	printCluster(out, a)
	fmt.Fprintf(out, "record: %s\nstop it with: faultline cluster down --store %s\n", filepath.Join(dir, controller.ClusterFile), store)
	return nil
}

func printCluster(out io.Writer, a *controller.Attached) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tENDPOINT\tDIRECTORY")
	for _, n := range a.Cluster.Nodes() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, n.Addr, a.Endpoint(n.Name), a.Cluster.NodeDir(n.Name))
	}
	tw.Flush()
}

func clusterDown(out io.Writer, store string, purge bool) error {
	ctx, cancel := signalContext(2 * time.Minute)
	defer cancel()
	dir := controller.ClusterDir(store)
	rec, err := controller.ReadClusterRecord(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return withCode(exitError, err)
	}
	if err == nil && !rec.TornDown {
		a, aerr := controller.Attach(ctx, dir)
		switch {
		case errors.Is(aerr, control.ErrGone):
			fmt.Fprintf(out, "cluster %s is already gone (%v)\n", rec.Cluster.RunID, aerr)
			rec.TornDown = true
			_ = controller.WriteClusterRecord(dir, rec)
		case aerr != nil:
			return withCode(exitError, aerr)
		default:
			rep, err := a.Down(ctx)
			fmt.Fprint(out, rep)
			if err != nil {
				return withCode(exitError, fmt.Errorf("run %s: %w", rec.Cluster.RunID, err))
			}
			fmt.Fprintf(out, "tore down cluster %s (%d nodes)\n", rec.Cluster.RunID, len(rec.Cluster.Nodes))
		}
		if purge {
			if err := os.RemoveAll(dir); err != nil {
				return withCode(exitError, fmt.Errorf("--purge: %w", err))
			}
			fmt.Fprintf(out, "removed %s (--purge)\n", dir)
			return nil
		}
		fmt.Fprintf(out, "logs kept in %s (--purge removes them)\n", filepath.Join(dir, "nodes"))
		return nil
	}
	// No cluster recorded: remove every leftover, detached clusters
	// included.
	var errs []error
	for _, b := range control.Backends() {
		if b.Sweep == nil {
			continue
		}
		rep, err := b.Sweep(ctx, control.SweepOptions{Detached: true})
		fmt.Fprint(out, rep)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return withCode(exitError, err)
	}
	if _, err := os.Stat(dir); purge && err == nil {
		// A cluster torn down before: its record and logs.
		if err := os.RemoveAll(dir); err != nil {
			return withCode(exitError, fmt.Errorf("--purge: %w", err))
		}
		fmt.Fprintf(out, "removed %s (--purge)\n", dir)
	}
	return nil
}
