package agent

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Command is faultline's subcommand that runs the agent: a node runs
// `<faultline binary> agent <verb> …`.
const Command = "agent"

// Exit codes of the agent's one-shot verbs.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	// ExitGone says the process named does not exist (any more).
	ExitGone = 3
)

type verb struct {
	doc string
	run func(args []string, stdout, stderr io.Writer) int
}

var verbs = map[string]verb{}

func register(name, doc string, run func(args []string, stdout, stderr io.Writer) int) {
	verbs[name] = verb{doc: doc, run: run}
}

// Main runs the agent verb args[0] with the rest of args, and returns the
// process's exit code. cmd/faultline calls it for `faultline agent …`;
// test binaries call it from TestMain so that they can act as the agent.
func Main(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return exitUsage
	}
	v, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "faultline agent: unknown verb %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return v.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: faultline agent VERB [flags]\n\nfaultline's node agent: the controller runs it on each node through its\ncontrol backend. Verbs:")
	var names []string
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, verbs[n].doc)
	}
}

// flags is a FlagSet that reports to stderr and names the verb.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("faultline agent "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, reporting a usage error as exit code 2.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitUsage, false
		}
		return exitUsage, false
	}
	return 0, true
}

// fail prints one line and returns the exit code for err.
func fail(stderr io.Writer, verb string, err error) int {
	fmt.Fprintf(stderr, "faultline agent %s: %v\n", verb, err)
	if errors.Is(err, errGone) {
		return ExitGone
	}
	return exitError
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
