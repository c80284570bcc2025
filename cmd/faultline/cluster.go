package main

import (
	"context"
	"encoding/json"
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

	"github.com/faultline-dev/faultline/control/local"
	"github.com/faultline-dev/faultline/nemesis"
	"github.com/faultline-dev/faultline/targets/etcd"
)

// clusterState is what `faultline cluster up` leaves in
// <store>/cluster/state.json for `cluster down`, `nemesis` and people.
type clusterState struct {
	RunID    string             `json:"run_id"`
	Target   string             `json:"target"`
	Subnet   string             `json:"subnet"`
	HostAddr string             `json:"host_addr"`
	Dir      string             `json:"dir"`
	Created  time.Time          `json:"created"`
	Nodes    []clusterStateNode `json:"nodes"`
}

type clusterStateNode struct {
	Name      string `json:"name"`
	Addr      string `json:"addr"`
	Namespace string `json:"namespace"`
	Endpoint  string `json:"endpoint"`
	Log       string `json:"log"`
}

func clusterDir(store string) string       { return filepath.Join(store, "cluster") }
func clusterStatePath(store string) string { return filepath.Join(clusterDir(store), "state.json") }

// loadClusterState reads the state of the cluster `cluster up` made under
// store; os.ErrNotExist if there is none.
func loadClusterState(store string) (*clusterState, error) {
	b, err := os.ReadFile(clusterStatePath(store))
	if err != nil {
		return nil, err
	}
	var st clusterState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", clusterStatePath(store), err)
	}
	return &st, nil
}

// signalContext ends on Ctrl-C or SIGTERM, and after timeout.
func signalContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

func init() {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Start or stop a local etcd cluster for ad hoc work",
		Long: `A local cluster is a set of network namespaces on this machine (needs root),
one etcd member in each. It stays up after 'cluster up' returns, for ad hoc
work and for 'faultline nemesis', until 'cluster down'.`,
	}
	var store string
	var nodes int
	up := &cobra.Command{
		Use:   "up",
		Short: "Start a local etcd cluster and leave it running",
		Long: `Start a local etcd cluster: one network namespace per node joined by a bridge,
an etcd member in each, and wait until every member serves linearizable reads.
It prints the nodes and their client endpoints and writes them to
<store>/cluster/state.json; member data and logs are under <store>/cluster/.`,
		Example: `  sudo faultline cluster up --nodes 5
  ETCDCTL_API=3 etcdctl --endpoints http://10.x.y.11:2379 put k v`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if nodes < 1 || nodes > 50 {
				return withCode(exitError, fmt.Errorf("--nodes %d: want 1 to 50", nodes))
			}
			return clusterUp(cmd.OutOrStdout(), store, nodes)
		},
	}
	up.Flags().IntVar(&nodes, "nodes", 5, "number of nodes")
	down := &cobra.Command{
		Use:   "down",
		Short: "Tear down the cluster 'cluster up' made (or, without one, every faultline leftover)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return clusterDown(cmd.OutOrStdout(), store)
		},
	}
	cmd.PersistentFlags().StringVar(&store, "store", "store", "store directory")
	cmd.AddCommand(up, down)
	rootCmd.AddCommand(cmd)

	var healStore string
	heal := &cobra.Command{
		Use:   "heal",
		Short: "Remove what crashed faultline runs left behind",
		Long: `Remove what crashed faultline runs left on this machine, found by faultline's
names: processes inside their network namespaces (killed first), the
namespaces with their bridges, links and iptables rules, the controller-side
links and lock files. Runs whose controller is still alive, and clusters
started with 'cluster up', are left alone. Faults first: the nemesis journals
of dead runs under --store are replayed (partitions healed, paused processes
resumed, skewed clocks reset), then every faultline namespace is swept for
faultline's iptables chains, stopped and skewed processes. Prints what it
removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext(time.Minute)
			defer cancel()
			// Faults first (from the journals of dead runs, then a sweep of
			// faultline's namespaces), so the report lists what was undone;
			// then the hosts themselves.
			nrep, nerr := nemesis.HealLeftovers(ctx, healStore)
			fmt.Fprint(cmd.OutOrStdout(), nrep)
			rep, err := local.Cleanup(ctx, local.CleanupOptions{})
			fmt.Fprint(cmd.OutOrStdout(), rep)
			if err = errors.Join(nerr, err); err != nil {
				return withCode(exitError, fmt.Errorf("heal: %w", err))
			}
			return nil
		},
	}
	heal.Flags().StringVar(&healStore, "store", "store", "store directory whose fault journals to replay")
	rootCmd.AddCommand(heal)
}

func clusterUp(out io.Writer, store string, n int) (err error) {
	if st, err := loadClusterState(store); err == nil {
		if _, aerr := local.Attach(st.RunID); aerr == nil {
			return withCode(exitError, fmt.Errorf("a cluster is already up (run %s, %s); run 'faultline cluster down --store %s' first", st.RunID, clusterStatePath(store), store))
		}
	}
	ctx, cancel := signalContext(2 * time.Minute)
	defer cancel()
	dir, err := filepath.Abs(clusterDir(store))
	if err != nil {
		return withCode(exitError, err)
	}
	start := time.Now()
	c, err := local.New(ctx, local.Options{Nodes: local.NodeNames(n), Detached: true})
	if err != nil {
		return withCode(exitError, fmt.Errorf("cluster up: %w", err))
	}
	var tg *etcd.Target
	defer func() {
		if err != nil {
			// Leave nothing half-made behind.
			tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer tcancel()
			if tg != nil {
				_ = tg.Teardown(tctx)
			}
			_ = c.Teardown(tctx)
		}
	}()
	tg, err = etcd.New(c, etcd.Options{Dir: dir})
	if err == nil {
		err = tg.Setup(ctx)
	}
	if err == nil {
		err = tg.WaitHealthy(ctx)
	}
	if err != nil {
		return withCode(exitError, fmt.Errorf("cluster up: %w (member logs: %s/<node>/etcd.log)", err, dir))
	}

	st := clusterState{RunID: c.RunID(), Target: "etcd", Subnet: c.Subnet().String(), HostAddr: c.HostAddr().String(), Dir: dir, Created: time.Now().UTC()}
	for _, node := range c.Nodes() {
		ep, _ := tg.Endpoint(node.Name)
		ns, _ := c.Namespace(node.Name)
		st.Nodes = append(st.Nodes, clusterStateNode{Name: node.Name, Addr: node.Addr.String(), Namespace: ns, Endpoint: ep, Log: tg.LogFiles(node.Name)[0]})
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err = os.WriteFile(clusterStatePath(store), append(b, '\n'), 0o644); err != nil {
		return withCode(exitError, fmt.Errorf("cluster up: writing state: %w", err))
	}

	fmt.Fprintf(out, "etcd cluster %s up in %v (subnet %s, this host is %s)\n", c.RunID(), time.Since(start).Round(time.Millisecond), st.Subnet, st.HostAddr)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tENDPOINT\tNAMESPACE\tLOG")
	for _, node := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", node.Name, node.Addr, node.Endpoint, node.Namespace, node.Log)
	}
	tw.Flush()
	fmt.Fprintf(out, "state: %s\nstop it with: faultline cluster down --store %s\n", clusterStatePath(store), store)
	return nil
}

func clusterDown(out io.Writer, store string) error {
	ctx, cancel := signalContext(time.Minute)
	defer cancel()
	st, err := loadClusterState(store)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return withCode(exitError, fmt.Errorf("cluster down: %w", err))
	}
	if st != nil {
		c, aerr := local.Attach(st.RunID)
		if aerr == nil {
			if err := c.Teardown(ctx); err != nil {
				return withCode(exitError, fmt.Errorf("cluster down: run %s: %w", st.RunID, err))
			}
			fmt.Fprintf(out, "tore down cluster %s (%d nodes)\n", st.RunID, len(c.Nodes()))
		} else {
			fmt.Fprintf(out, "cluster %s is already gone (%v)\n", st.RunID, aerr)
		}
		if err := os.Remove(clusterStatePath(store)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return withCode(exitError, fmt.Errorf("cluster down: %w", err))
		}
		fmt.Fprintf(out, "data and logs kept in %s\n", st.Dir)
		return nil
	}
	// No state: remove every leftover, detached clusters included.
	rep, err := local.Cleanup(ctx, local.CleanupOptions{Detached: true})
	fmt.Fprint(out, rep)
	if err != nil {
		return withCode(exitError, fmt.Errorf("cluster down: %w", err))
	}
	return nil
}
