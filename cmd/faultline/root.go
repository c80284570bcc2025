// Command faultline is a Jepsen-style fault-injection and consistency checker.
//
// The CLI is thin: each verb parses flags into options and calls the
// controller, checker or reports packages. Every verb registers itself on
// rootCmd from its own file's init.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes shared by run and check (see DESIGN.md).
const (
	exitValid   = 0
	exitInvalid = 1
	exitUnknown = 2
	exitError   = 3
)

// exitErr carries an exit code out of a command. A nil err means the
// command already printed what it had to say.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitErr) Unwrap() error { return e.err }

// withCode returns an error that makes faultline exit with code.
func withCode(code int, err error) error { return &exitErr{code: code, err: err} }

var rootCmd = &cobra.Command{
	Use:   "faultline",
	Short: "Jepsen-style fault injection and consistency checking, in one binary",
	Long: `faultline drives concurrent workloads against a real distributed system while
nemeses partition the network, kill and pause nodes and skew clocks; it records
every operation in a history and checks the history against consistency models
(linearizability with porcupine, transactional isolation Elle-style).

Exit codes of run and check: 0 valid, 1 invalid, 2 unknown, 3 error.`,
	SilenceErrors: true,
	SilenceUsage:  true,
}

func init() {
	rootCmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitError, fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
}

// usageHints makes every command's argument errors point at its help, as
// flag errors do.
func usageHints(c *cobra.Command) {
	if orig := c.Args; orig != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := orig(cmd, args); err != nil {
				return withCode(exitError, fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath()))
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageHints(sub)
	}
}

func main() {
	// A reader that goes away (faultline run | head) must not kill a run
	// before it heals its faults and writes its results: writes to the
	// closed pipe fail instead, and the run goes on.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(execute())
}

func execute() int {
	usageHints(rootCmd)
	cmd, err := rootCmd.ExecuteC()
	if err == nil {
		return 0
	}
	// One prefix: the command that failed ("faultline run: …").
	prefix := "faultline"
	if cmd != nil {
		prefix = cmd.CommandPath()
	}
	code := exitError
	var ee *exitErr
	if errors.As(err, &ee) {
		code, err = ee.code, ee.err
	}
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "faultline") {
			msg = prefix + ": " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
	}
	return code
}

// groupRunE makes a command that only groups subcommands (cluster,
// nemesis, image) refuse an unknown or misspelled subcommand with exit 3
// and a "did you mean", as cobra does for the root's; without arguments it
// shows its help.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return withCode(exitError, fmt.Errorf("%s (its commands: %s)", msg, strings.Join(names, ", ")))
}

// suggest are the names close to word, as cobra suggests commands: within
// two edits, or starting with it.
func suggest(word string, names []string) []string {
	var out []string
	w := strings.ToLower(word)
	for _, n := range names {
		if d := editDistance(w, strings.ToLower(n)); d <= 2 || (w != "" && strings.HasPrefix(strings.ToLower(n), w)) {
			out = append(out, n)
		}
	}
	return out
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
