package main

import (
	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/targets/etcd"
)

// The etcd target starts its members as `faultline etcd-member <flags>` on
// the nodes, so that nothing but faultline is installed there.
func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   etcd.MemberCommand + " [etcd flags]",
		Short: "Run one etcd member (started by faultline on its nodes)",
		Long: `Run one etcd member until SIGTERM or SIGINT. faultline's etcd target starts
it on each node; the flags are etcd's own names: --name, --data-dir,
--listen-client-urls, --advertise-client-urls, --listen-peer-urls,
--initial-advertise-peer-urls, --initial-cluster, --initial-cluster-state,
--initial-cluster-token, --heartbeat-interval, --election-timeout,
--snapshot-count, --log-file, --log-level.`,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := etcd.MemberMain(args); err != nil {
				return withCode(exitError, err)
			}
			return nil
		},
	})
}
