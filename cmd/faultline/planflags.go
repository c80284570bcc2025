package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/controller"
	"github.com/faultline-dev/faultline/internal/options"
)

// clusterFlags are the flags that say which cluster a command makes or
// reaches: the target and its options, the control backend and its
// options, the nodes. run and cluster up share them.
type clusterFlags struct {
	target, control, nodes, nodesFile string
	targetOpts, controlOpts           []string
	readConsistency, isolation        string
	upsert                            string
	ssh                               map[string]*string
}

// sshShorthands map --ssh-X flags onto the ssh backend's options.
var sshShorthands = []struct{ flag, option, usage string }{
	{"ssh-user", "user", "SSH user on the nodes (default root; a non-root user needs passwordless sudo -n)"},
	{"ssh-key", "key", "SSH private key file (its passphrase from --ssh-passphrase-env or -file, never argv)"},
	{"ssh-passphrase-env", "passphrase-env", "NAME of an environment variable holding the key's passphrase"},
	{"ssh-passphrase-file", "passphrase-file", "file holding the key's passphrase"},
	{"ssh-known-hosts", "known-hosts", "known_hosts file the nodes' host keys are verified against (default ~/.ssh/known_hosts)"},
	{"ssh-host-key", "host-key", "verify (default) or accept-new: add unknown hosts to known_hosts (a changed key is always refused)"},
	{"ssh-config", "config", "ssh config file (default ~/.ssh/config; none to ignore it)"},
}

// dockerShorthands map --docker-X flags onto the docker backend's options.
var dockerShorthands = []struct{ flag, option, usage string }{
	{"docker-project", "project", "attach to the containers of this Compose project (by its labels; never removed or recreated)"},
	{"docker-label", "label", "attach to the containers with this label K=V"},
	{"docker-containers", "containers", "attach to these containers, by name or id, comma-separated"},
}

func (f *clusterFlags) register(cmd *cobra.Command, def controller.Plan) {
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", def.Target, "system under test: "+strings.Join(controller.TargetNames(), ", "))
	fl.StringVar(&f.control, "control", def.Control, "how nodes are reached: "+strings.Join(control.BackendNames(), ", "))
	fl.StringVar(&f.nodes, "nodes", "", "node count (local: n1..nN; default: the target's), or comma-separated names or hosts[:port] (ssh)")
	fl.StringVar(&f.nodesFile, "nodes-file", "", "file of nodes, one host[:port] a line (Jepsen's nodes file)")
	fl.StringArrayVar(&f.targetOpts, "target-opt", nil, "target option KEY=VALUE (repeatable; faultline list targets shows them)")
	fl.StringArrayVar(&f.controlOpts, "control-opt", nil, "control backend option KEY=VALUE (repeatable; faultline list backends shows them)")
	fl.StringVar(&f.readConsistency, "read-consistency", "", "etcd read mode: linearizable or serializable (= --target-opt read-consistency=…)")
	fl.StringVar(&f.isolation, "isolation", "", "PostgreSQL isolation level: serializable, repeatable-read or read-committed (= --target-opt isolation=…)")
	fl.StringVar(&f.upsert, "upsert", "", "PostgreSQL writes: update-insert or on-conflict (= --target-opt upsert=…)")
	f.ssh = map[string]*string{}
	for _, s := range sshShorthands {
		f.ssh[s.flag] = fl.String(s.flag, "", s.usage)
	}
	for _, s := range dockerShorthands {
		f.ssh[s.flag] = fl.String(s.flag, "", s.usage)
	}
	_ = cmd.RegisterFlagCompletionFunc("target", fixedCompletions(controller.TargetNames()))
	_ = cmd.RegisterFlagCompletionFunc("control", fixedCompletions(control.BackendNames()))
	_ = cmd.RegisterFlagCompletionFunc("read-consistency", fixedCompletions([]string{"linearizable", "serializable"}))
	_ = cmd.RegisterFlagCompletionFunc("isolation", fixedCompletions([]string{"serializable", "repeatable-read", "read-committed"}))
	_ = cmd.RegisterFlagCompletionFunc("upsert", fixedCompletions([]string{"update-insert", "on-conflict"}))
	_ = cmd.RegisterFlagCompletionFunc("ssh-host-key", fixedCompletions([]string{"verify", "accept-new"}))
	_ = cmd.RegisterFlagCompletionFunc("nodes", fixedCompletions([]string{"1", "3", "5", "7"}))
	_ = cmd.MarkFlagFilename("nodes-file")
	_ = cmd.MarkFlagFilename("ssh-key")
	_ = cmd.MarkFlagFilename("ssh-known-hosts")
}

// apply sets the fields of plan whose flags were given.
func (f *clusterFlags) apply(cmd *cobra.Command, plan *controller.Plan) error {
	var err error
	set := func(m *map[string]string, k, v string) {
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
	}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if err != nil {
			return
		}
		switch fl.Name {
		case "target":
			plan.Target = f.target
		case "control":
			plan.Control = f.control
		case "nodes":
			plan.Nodes, err = controller.ParseNodes(f.nodes)
		case "nodes-file":
			plan.Nodes, err = controller.ReadNodesFile(f.nodesFile)
		case "target-opt":
			for _, kv := range f.targetOpts {
				if plan.TargetOptions == nil {
					plan.TargetOptions = map[string]string{}
				}
				if e := options.ParseKV(plan.TargetOptions, kv); e != nil {
					err = fmt.Errorf("--target-opt %w", e)
				}
			}
		case "control-opt":
			for _, kv := range f.controlOpts {
				if plan.ControlOptions == nil {
					plan.ControlOptions = map[string]string{}
				}
				if e := options.ParseKV(plan.ControlOptions, kv); e != nil {
					err = fmt.Errorf("--control-opt %w", e)
				}
			}
		case "read-consistency":
			set(&plan.TargetOptions, "read-consistency", f.readConsistency)
		case "isolation":
			set(&plan.TargetOptions, "isolation", f.isolation)
		case "upsert":
			set(&plan.TargetOptions, "upsert", f.upsert)
		default:
			for _, s := range append(sshShorthands, dockerShorthands...) {
				if fl.Name == s.flag {
					set(&plan.ControlOptions, s.option, *f.ssh[s.flag])
				}
			}
		}
	})
	if err != nil {
		return err
	}
	if cmd.Flags().Changed("nodes") && cmd.Flags().Changed("nodes-file") {
		return fmt.Errorf("give --nodes or --nodes-file, not both")
	}
	for _, s := range sshShorthands {
		if cmd.Flags().Changed(s.flag) && plan.Control != "ssh" {
			return fmt.Errorf("--%s is for --control ssh (this plan's control is %s)", s.flag, plan.Control)
		}
	}
	for _, s := range dockerShorthands {
		if cmd.Flags().Changed(s.flag) && plan.Control != "docker" {
			return fmt.Errorf("--%s is for --control docker (this plan's control is %s)", s.flag, plan.Control)
		}
	}
	return nil
}

// describeOptions prints specs, indented and aligned, for `faultline
// list`.
func describeOptions(specs []options.Spec) string {
	var b strings.Builder
	lines := options.Describe(specs)
	sort.Strings(lines)
	width := 0
	for _, l := range lines {
		name, _, _ := strings.Cut(l, "\t")
		width = max(width, len(name))
	}
	for _, l := range lines {
		name, doc, _ := strings.Cut(l, "\t")
		fmt.Fprintf(&b, "      %-*s  %s\n", width, name, doc)
	}
	return b.String()
}
