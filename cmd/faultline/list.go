package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/controller"
	"github.com/faultline-dev/faultline/nemesis"
	"github.com/faultline-dev/faultline/workloads"
)

// listSections are what `faultline list` can show; other rooms (targets,
// workloads, nemeses) append theirs from their own files' init.
var listSections = []listSection{
	{"targets", "systems under test (faultline run --target; options: --target-opt KEY=VALUE)", func(w io.Writer) {
		for _, t := range controller.Targets() {
			fmt.Fprintf(w, "  %s  workloads: %s\n      %s\n", t.Name, strings.Join(controller.TargetWorkloads(t.Name), ", "), t.Doc)
			fmt.Fprint(w, describeOptions(t.Options))
		}
	}},
	{"backends", "how nodes are reached (faultline run --control; options: --control-opt KEY=VALUE)", func(w io.Writer) {
		for _, b := range control.Backends() {
			fmt.Fprintf(w, "  %s  %s\n", b.Name, b.Doc)
			var faults []string
			for _, s := range nemesis.All() {
				if !s.NeedsContainers || b.Containers {
					faults = append(faults, s.Name)
				}
			}
			fmt.Fprintf(w, "      faults: %s (each checked against what every node can do before a run sets anything up)\n", strings.Join(faults, ", "))
			fmt.Fprint(w, describeOptions(b.Options))
		}
	}},
	{"workloads", "workloads (faultline run --workload)", func(w io.Writer) {
		for _, wl := range workloads.All() {
			fmt.Fprintf(w, "  %s\t%s\n", wl.Name(), wl.Doc())
		}
	}},
	{"models", "linearizability models (faultline check --model)", func(w io.Writer) {
		for _, m := range checker.Models() {
			fmt.Fprintf(w, "  %s\t%s\n", m.Name, m.Description)
		}
	}},
	{"consistency-models", "transactional consistency models (--consistency-model)", func(w io.Writer) {
		for _, m := range txn.Models() {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}},
}

type listSection struct {
	name, title string
	print       func(io.Writer)
}

func init() {
	cmd := &cobra.Command{
		Use:   "list [SECTION]",
		Short: "List the models, checkers, targets, workloads and nemeses faultline knows",
		Args:  cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, s := range listSections {
				names = append(names, s.name)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			defer tw.Flush()
			found := false
			for _, s := range listSections {
				if len(args) == 1 && args[0] != s.name {
					continue
				}
				found = true
				fmt.Fprintf(tw, "%s: %s\n", s.name, s.title)
				s.print(tw)
				fmt.Fprintln(tw)
			}
			if !found {
				var names []string
				for _, s := range listSections {
					names = append(names, s.name)
				}
				msg := fmt.Sprintf("unknown section %q", args[0])
				if s := suggest(args[0], names); len(s) > 0 {
					msg += "; did you mean " + strings.Join(s, " or ") + "?"
				}
				return withCode(exitError, fmt.Errorf("%s (its sections: %s; see 'faultline list --help')", msg, strings.Join(names, ", ")))
			}
			return nil
		},
	}
	rootCmd.AddCommand(cmd)
}
