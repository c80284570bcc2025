package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
)

// spawn starts a long-running process for a backend that reaches nodes by
// running commands (SSH): the process gets its own session, /dev/null for
// input and its log for output, and survives the command that started it
// and the connection it came over. spawn reports on its standard output
//
//	started PID START     as soon as the process runs
//	exited CODE SIGNAL    when it exits (code -1 and the signal number if
//	                      a signal killed it)
//
// and records the process under --dir (procs/PID) so that heal can find
// what a crashed run left running. When its own output goes away (the
// connection dropped) it keeps waiting, silently, so that the process is
// still reaped.
func init() {
	register("spawn", "start a long-running process detached, report its pid and exit status", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("spawn", stderr)
		logPath := fs.String("log", "", "file receiving the process's output (appended); required")
		dir := fs.String("dir", "", "node directory: records the process under DIR/procs")
		workDir := fs.String("cwd", "", "working directory")
		var env listFlag
		fs.Var(&env, "env", "KEY=VALUE added to the environment (repeatable)")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		if *logPath == "" || fs.NArg() == 0 {
			fmt.Fprintln(stderr, "usage: faultline agent spawn --log FILE [--dir DIR] [--env K=V]… -- COMMAND [ARGS…]")
			return exitUsage
		}
		return spawn(*logPath, *dir, *workDir, env, fs.Args(), stdout, stderr)
	})
}

func spawn(logPath, dir, workDir string, env, argv []string, stdout, stderr io.Writer) int {
	// The connection may go; the process must not go with it.
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		fmt.Fprintf(stdout, "error %v\n", err)
		return exitError
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(stdout, "error opening the log: %v\n", err)
		return exitError
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = workDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		msg := err.Error()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			msg = "not-found " + msg
		}
		fmt.Fprintf(stdout, "error %s\n", msg)
		return exitError
	}
	logf.Close()
	pid := cmd.Process.Pid
	st, _ := readStat(pid)
	record := ""
	if dir != "" {
		record = filepath.Join(dir, "procs", strconv.Itoa(pid))
		if err := os.MkdirAll(filepath.Dir(record), 0o755); err == nil {
			_ = os.WriteFile(record, []byte(fmt.Sprintf("%d %d %s\n", pid, st.start, argv[0])), 0o644)
		}
	}
	// Ignored errors: the reader may have gone.
	_, _ = fmt.Fprintf(stdout, "started %d %d\n", pid, st.start)
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}
	werr := cmd.Wait()
	code, sig := 0, 0
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code, sig = -1, int(ws.Signal())
		} else {
			code = ps.ExitCode()
		}
	} else if werr != nil {
		code = -1
	}
	if record != "" {
		os.Remove(record)
	}
	_, _ = fmt.Fprintf(stdout, "exited %d %d\n", code, sig)
	return exitOK
}
