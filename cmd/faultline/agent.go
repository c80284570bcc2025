package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/agent"
)

// The node agent: control backends run `faultline agent VERB …` on the
// nodes (the same binary, installed there), so that faults, process
// listing and signals happen on the node itself.
func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:                agent.Command + " VERB [flags]",
		Short:              "Run faultline's node agent (started by faultline on its nodes)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			code := agent.Main(args)
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	})
}
