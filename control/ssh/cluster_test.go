package ssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/ssh/sshtest"
)

func TestNew(t *testing.T) {
	f, c := newCluster(t, 0)
	if c.Backend() != "ssh" || len(c.RunID()) != 6 {
		t.Errorf("Backend %q, RunID %q", c.Backend(), c.RunID())
	}
	nodes := c.Nodes()
	if len(nodes) != len(f.Nodes) {
		t.Fatalf("%d nodes, want %d", len(nodes), len(f.Nodes))
	}
	for i, n := range nodes {
		if n.Name != f.Nodes[i].Name || n.Addr != f.Nodes[i].Addr {
			t.Errorf("node %d: %s %s, want %s %s", i, n.Name, n.Addr, f.Nodes[i].Name, f.Nodes[i].Addr)
		}
		if want := "/var/lib/faultline/runs/" + c.RunID() + "/" + n.Name; c.NodeDir(n.Name) != want {
			t.Errorf("NodeDir(%s) = %s, want %s", n.Name, c.NodeDir(n.Name), want)
		}
		// Made on the node, with the agent.
		out, err := f.Exec(ctxT(t, 10*time.Second), n.Name, "test -d "+c.NodeDir(n.Name)+" && test -x "+c.Binary(n.Name)+" && "+c.Binary(n.Name)+" agent stat --pid 1")
		if err != nil {
			t.Errorf("%s: %v", n.Name, err)
		} else if !strings.HasPrefix(out, "1 ") {
			t.Errorf("%s: agent stat --pid 1: %q", n.Name, out)
		}
	}
	hash, _ := control.BinaryHash()
	if want := "/var/lib/faultline/bin/faultline-" + hash[:16]; c.Binary("n1") != want {
		t.Errorf("Binary = %s, want %s", c.Binary("n1"), want)
	}
	if _, err := c.Exec(context.Background(), "nope", control.Cmd{Path: "true"}); !errors.Is(err, control.ErrNoNode) {
		t.Errorf("Exec on a missing node: %v, want ErrNoNode", err)
	}
}

func TestExec(t *testing.T) {
	f, c := newCluster(t, 1)
	ctx := ctxT(t, time.Minute)

	out, err := c.Exec(ctx, "n1", control.Cmd{Path: "/bin/sh", Args: []string{"-c", "echo out; echo err >&2"}})
	if err != nil || !strings.Contains(string(out), "out\n") || !strings.Contains(string(out), "err\n") {
		t.Errorf("combined output: %q, %v", out, err)
	}

	// Every word reaches the command as it was: no shell interprets it.
	tricky := []string{`it's`, `"$HOME"`, "a b", "`id`", "$(id)", "", "*", "-n"}
	out, err = c.Exec(ctx, "n1", control.Cmd{Path: "/usr/bin/printf", Args: append([]string{`[%s]\n`}, tricky...)})
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, w := range tricky {
		want.WriteString("[" + w + "]\n")
	}
	if string(out) != want.String() {
		t.Errorf("words: got %q, want %q", out, want.String())
	}

	// Exit codes.
	out, err = c.Exec(ctx, "n1", control.Cmd{Path: "/bin/sh", Args: []string{"-c", "echo failing; exit 3"}})
	var ee *control.ExitError
	if !errors.As(err, &ee) || ee.Status.Code != 3 || ee.Node != "n1" || ee.Path != "/bin/sh" || !strings.Contains(string(ee.Output), "failing") {
		t.Errorf("exit 3: %v (%#v), output %q", err, ee, out)
	}
	_, err = c.Exec(ctx, "n1", control.Cmd{Path: "/bin/sh", Args: []string{"-c", "kill -9 $$"}})
	if !errors.As(err, &ee) || ee.Status.Signal != syscall.SIGKILL || ee.Status.Code != -1 {
		t.Errorf("killed: %v", err)
	}

	// Not found.
	_, err = c.Exec(ctx, "n1", control.Cmd{Path: "/no/such/program"})
	if !errors.Is(err, control.ErrNotFound) || !errors.As(err, &ee) || ee.Status.Code != 127 {
		t.Errorf("missing program: %v, want ErrNotFound and exit code 127", err)
	}
	_, err = c.Exec(ctx, "n1", control.Cmd{Path: "no-such-program-on-path"})
	if !errors.Is(err, control.ErrNotFound) {
		t.Errorf("missing program on PATH: %v, want ErrNotFound", err)
	}

	// Stdin.
	out, err = c.Exec(ctx, "n1", control.Cmd{Path: "/usr/bin/tr", Args: []string{"a-z", "A-Z"}, Stdin: strings.NewReader("hello\n")})
	if err != nil || string(out) != "HELLO\n" {
		t.Errorf("stdin: %q, %v", out, err)
	}

	// A clean environment: PATH, LANG and cmd.Env only.
	out, err = c.Exec(ctx, "n1", control.Cmd{Path: "/usr/bin/env", Env: []string{"FOO=bar baz", "EMPTY="}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	wantEnv := []string{envPath, envLang, "FOO=bar baz", "EMPTY="}
	if strings.Join(got, "\n") != strings.Join(wantEnv, "\n") {
		t.Errorf("environment: %q, want %q", got, wantEnv)
	}

	// Dir.
	out, err = c.Exec(ctx, "n1", control.Cmd{Path: "/bin/pwd", Dir: "/var/tmp"})
	if err != nil || string(out) != "/var/tmp\n" {
		t.Errorf("dir: %q, %v", out, err)
	}

	// Separate stdout and stderr.
	var so, se bytes.Buffer
	out, err = c.Exec(ctx, "n1", control.Cmd{Path: "/bin/sh", Args: []string{"-c", "echo out; echo err >&2"}, Stdout: &so, Stderr: &se})
	if err != nil || so.String() != "out\n" || se.String() != "err\n" || len(out) != 0 {
		t.Errorf("streams: out %q err %q returned %q, %v", so.String(), se.String(), out, err)
	}

	// A cancelled context kills the command on the node.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Exec(cctx, "n1", control.Cmd{Path: "/bin/sleep", Args: []string{"1234.5"}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled Exec: %v after %v", err, time.Since(start))
	}
	waitNodeGone(t, f, "n1", "sleep 1234.5")
}

// waitNodeGone waits until no process on node has pattern in its command
// line.
func waitNodeGone(t *testing.T, f *sshtest.Fixture, node, pattern string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		// [x]yz matches xyz but not the shell running pgrep.
		out, err := f.Exec(ctxT(t, 10*time.Second), node, "pgrep -af '["+pattern[:1]+"]"+pattern[1:]+"' || true")
		if err == nil && strings.TrimSpace(out) == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s still runs on %s: %s %v", pattern, node, out, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFiles(t *testing.T) {
	f, c := newCluster(t, 1)
	ctx := ctxT(t, time.Minute)
	dir := "/tmp/files-" + c.RunID()
	p := dir + "/sub/f.txt"

	if err := c.MkdirAll(ctx, "n1", dir+"/sub", 0o750); err != nil {
		t.Fatal(err)
	}
	data := []byte("line 1\nit's binary too: \x00\xff\n")
	if err := c.WriteFile(ctx, "n1", p, data, 0o640); err != nil {
		t.Fatal(err)
	}
	// Checked independently, over the fixture's own connection.
	out, err := f.Exec(ctx, "n1", "stat -c '%a %U' "+dir+"/sub "+p+"; od -An -c "+p+" | tr -s ' '")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "750 root\n640 root\n") || !strings.Contains(out, `\0 377`) {
		t.Errorf("on the node: %q", out)
	}
	got, err := c.ReadFile(ctx, "n1", p)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadFile: %q, %v", got, err)
	}
	if ok, err := c.Exists(ctx, "n1", p); !ok || err != nil {
		t.Errorf("Exists: %v %v", ok, err)
	}

	// Missing files.
	if _, err := c.ReadFile(ctx, "n1", dir+"/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
	}
	if ok, err := c.Exists(ctx, "n1", dir+"/missing"); ok || err != nil {
		t.Errorf("Exists of a missing file: %v %v", ok, err)
	}
	local := filepath.Join(t.TempDir(), "down")
	if err := c.Download(ctx, "n1", dir+"/missing", local); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Download of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(local); err == nil {
		t.Errorf("a failed Download left %s", local)
	}

	// Upload and Download round trip, 3 MB of bytes.
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>11)
	}
	src := filepath.Join(t.TempDir(), "up")
	if err := os.WriteFile(src, big, 0o751); err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(ctx, "n1", src, dir+"/up"); err != nil {
		t.Fatal(err)
	}
	if out, err := f.Exec(ctx, "n1", "stat -c '%a %s' "+dir+"/up"); err != nil || out != "751 "+strconv.Itoa(len(big))+"\n" {
		t.Errorf("uploaded file: %q, %v", out, err)
	}
	if err := c.Download(ctx, "n1", dir+"/up", local); err != nil {
		t.Fatal(err)
	}
	if back, err := os.ReadFile(local); err != nil || !bytes.Equal(back, big) {
		t.Errorf("Download: %d bytes, %v; differ from what was uploaded", len(back), err)
	}

	// RemoveAll.
	if err := c.RemoveAll(ctx, "n1", dir); err != nil {
		t.Fatal(err)
	}
	if out, err := f.Exec(ctx, "n1", "test -e "+dir+" && echo exists || echo gone"); err != nil || out != "gone\n" {
		t.Errorf("after RemoveAll: %q %v", out, err)
	}
	if err := c.RemoveAll(ctx, "n1", dir); err != nil {
		t.Errorf("RemoveAll of a missing path: %v", err)
	}
}

// procState reads pid's state letter on node through the fixture ("" if
// it has gone).
func procState(t *testing.T, f *sshtest.Fixture, node string, pid int) string {
	t.Helper()
	out, err := f.Exec(ctxT(t, 10*time.Second), node, "cat /proc/"+strconv.Itoa(pid)+"/stat 2>/dev/null || true")
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.LastIndexByte(out, ')'); i > 0 && i+2 < len(out) {
		return out[i+2 : i+3]
	}
	return ""
}

// settledState is pid's state once it is want, or what it is after 5 s: a
// process just started or continued may still be running its way to its
// sleep ("R") for a moment.
func settledState(t *testing.T, f *sshtest.Fixture, node string, pid int, want string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := procState(t, f, node, pid)
		if st == want || time.Now().After(deadline) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartSignal(t *testing.T) {
	f, c := newCluster(t, 2)
	ctx := ctxT(t, time.Minute)
	logPath := c.NodeDir("n2") + "/logs/sleep.log"
	p, err := c.Start(ctx, "n2", control.Cmd{Path: "/bin/sh", Args: []string{"-c", "echo started with $FOO in $(pwd); exec sleep 1000"}, Env: []string{"FOO=foo"}, Dir: "/opt", LogPath: logPath})
	if err != nil {
		t.Fatal(err)
	}
	if p.Node() != "n2" || p.Pid() <= 1 {
		t.Fatalf("Node %s Pid %d", p.Node(), p.Pid())
	}
	if st := settledState(t, f, "n2", p.Pid(), "S"); st != "S" {
		t.Errorf("state after Start: %q, want S", st)
	}
	// Its own session, not under sshd.
	if out, err := f.Exec(ctx, "n2", "ps -o sid=,comm= -p "+strconv.Itoa(p.Pid())); err != nil || strings.Fields(out)[0] != strconv.Itoa(p.Pid()) {
		t.Errorf("session of the process: %q %v", out, err)
	}

	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if st := procState(t, f, "n2", p.Pid()); st != "T" {
		t.Errorf("state after SIGSTOP: %q, want T", st)
	}
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if st := settledState(t, f, "n2", p.Pid(), "S"); st != "S" {
		t.Errorf("state after SIGCONT: %q, want S", st)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait(ctx)
	if err != nil || st.Code != -1 || st.Signal != syscall.SIGKILL {
		t.Errorf("Wait after SIGKILL: %+v, %v", st, err)
	}
	select {
	case <-p.Done():
	default:
		t.Error("Done not closed after Wait")
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, control.ErrExited) {
		t.Errorf("Signal after exit: %v, want ErrExited", err)
	}
	if out, err := f.Exec(ctx, "n2", "cat "+logPath); err != nil || out != "started with foo in /opt\n" {
		t.Errorf("log: %q %v", out, err)
	}

	// An exit code, and output appended to the log.
	p, err = c.Start(ctx, "n2", control.Cmd{Path: "/bin/sh", Args: []string{"-c", "echo second; echo to stderr >&2; exit 7"}, LogPath: logPath})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(ctx); err != nil || st.Code != 7 || st.Signal != 0 {
		t.Errorf("exit 7: %+v, %v", st, err)
	}
	if out, err := f.Exec(ctx, "n2", "cat "+logPath); err != nil || out != "started with foo in /opt\nsecond\nto stderr\n" {
		t.Errorf("log: %q %v", out, err)
	}

	// A missing program.
	if _, err := c.Start(ctx, "n2", control.Cmd{Path: "/no/such/program", LogPath: logPath}); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("Start of a missing program: %v, want ErrNotFound", err)
	}
	if _, err := c.Start(ctx, "n2", control.Cmd{Path: "/bin/true"}); err == nil {
		t.Error("Start without a log path succeeded")
	}
}

func TestStartPiped(t *testing.T) {
	f, c := newCluster(t, 1)
	ctx := ctxT(t, time.Minute)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	logPath := c.NodeDir("n1") + "/piped/cat.log"
	p, err := c.Start(ctx, "n1", control.Cmd{Path: "/bin/sh", Args: []string{"-c", "echo to the log >&2; exec cat"}, Stdin: inR, Stdout: outW, LogPath: logPath})
	if err != nil {
		t.Fatal(err)
	}
	if st := procState(t, f, "n1", p.Pid()); st == "" {
		t.Errorf("pid %d does not run on n1", p.Pid())
	}
	go inW.Write([]byte("ping\n"))
	line := make([]byte, 5)
	if _, err := io.ReadFull(outR, line); err != nil || string(line) != "ping\n" {
		t.Errorf("echoed %q, %v", line, err)
	}
	// Closing its stdin ends it.
	inW.Close()
	go io.Copy(io.Discard, outR)
	if st, err := p.Wait(ctx); err != nil || !st.Success() {
		t.Errorf("Wait: %+v %v", st, err)
	}
	if out, err := f.Exec(ctx, "n1", "cat "+logPath); err != nil || out != "to the log\n" {
		t.Errorf("log: %q %v", out, err)
	}

	// Signals reach it.
	inR2, inW2 := io.Pipe()
	defer inW2.Close()
	var out bytes.Buffer
	p, err = c.Start(ctx, "n1", control.Cmd{Path: "/bin/cat", Stdin: inR2, Stdout: &out, LogPath: logPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if st := procState(t, f, "n1", p.Pid()); st != "T" {
		t.Errorf("state after SIGSTOP: %q", st)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(ctx); err != nil || st.Signal != syscall.SIGKILL {
		t.Errorf("Wait after SIGKILL: %+v %v", st, err)
	}

	if _, err := c.Start(ctx, "n1", control.Cmd{Path: "/no/such/agent", Stdin: strings.NewReader(""), LogPath: logPath}); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("piped Start of a missing program: %v, want ErrNotFound", err)
	}
}

func TestAdopt(t *testing.T) {
	f, c := newCluster(t, 1)
	ctx := ctxT(t, time.Minute)
	out, err := f.Exec(ctx, "n1", "setsid sleep 1001 </dev/null >/dev/null 2>&1 & echo $!")
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(out))
	p, err := c.Adopt(ctx, "n1", pid)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid() != pid || p.Node() != "n1" {
		t.Errorf("adopted %s/%d", p.Node(), p.Pid())
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if st := procState(t, f, "n1", pid); st != "T" {
		t.Errorf("state after SIGSTOP: %q", st)
	}
	select {
	case <-p.Done():
		t.Fatal("Done before the process exited")
	case <-time.After(1500 * time.Millisecond): // a poll or two
	}
	if _, err := f.Exec(ctx, "n1", "kill -9 "+strconv.Itoa(pid)); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if st, err := p.Wait(wctx); err != nil || st.Code != -1 {
		t.Errorf("Wait: %+v %v", st, err)
	}
	if _, err := c.Adopt(ctx, "n1", pid); !errors.Is(err, control.ErrExited) {
		t.Errorf("Adopt of a gone pid: %v, want ErrExited", err)
	}
}

func TestTeardown(t *testing.T) {
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	c, err := tryNew(t, baseOptions(f), nodeSpecs(f, 2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, time.Minute)
	var procs []control.Process
	for _, node := range []string{"n1", "n2"} {
		for range 2 {
			// A tree: the shell and its sleep, which Teardown must reap too.
			p, err := c.Start(ctx, node, control.Cmd{Path: "/bin/sh", Args: []string{"-c", "sleep 1002 & wait"}, LogPath: c.NodeDir(node) + "/sleep.log"})
			if err != nil {
				t.Fatal(err)
			}
			procs = append(procs, p)
		}
	}
	inR, inW := io.Pipe()
	defer inW.Close()
	piped, err := c.Start(ctx, "n1", control.Cmd{Path: "/bin/cat", Stdin: inR, Stdout: io.Discard, LogPath: c.NodeDir("n1") + "/cat.log"})
	if err != nil {
		t.Fatal(err)
	}
	procs = append(procs, piped)
	if err := c.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		select {
		case <-p.Done():
		default:
			t.Errorf("pid %d on %s: Done not closed after Teardown", p.Pid(), p.Node())
		}
		if st := procState(t, f, p.Node(), p.Pid()); st != "" {
			t.Errorf("pid %d on %s survives Teardown (state %s)", p.Pid(), p.Node(), st)
		}
	}
	for _, node := range []string{"n1", "n2"} {
		waitNodeGone(t, f, node, "sleep 1002")
		out, err := f.Exec(ctx, node, "ls -A /var/lib/faultline/runs; test ! -e "+c.NodeDir(node)+" || echo left")
		if err != nil || strings.Contains(out, c.RunID()) || strings.Contains(out, "left") {
			t.Errorf("%s after Teardown: %q %v", node, out, err)
		}
	}
	if err := c.Teardown(ctx); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	if _, err := c.Exec(ctx, "n1", control.Cmd{Path: "true"}); !errors.Is(err, control.ErrTornDown) {
		t.Errorf("Exec after Teardown: %v, want ErrTornDown", err)
	}
	if _, err := c.Start(ctx, "n1", control.Cmd{Path: "true", LogPath: "/tmp/x"}); !errors.Is(err, control.ErrTornDown) {
		t.Errorf("Start after Teardown: %v, want ErrTornDown", err)
	}
	if err := procs[0].Signal(syscall.SIGKILL); !errors.Is(err, control.ErrExited) && !errors.Is(err, control.ErrTornDown) {
		t.Errorf("Signal after Teardown: %v", err)
	}
}

func TestInstallOnce(t *testing.T) {
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	home := "/opt/fl-install-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	t.Cleanup(func() { // after the clusters' Teardowns
		for _, n := range []string{"n1", "n2"} {
			if _, err := f.Exec(context.Background(), n, "rm -rf "+home); err != nil {
				t.Error(err)
			}
		}
	})
	var progress bytes.Buffer
	c1, err := tryNew(t, baseOptions(f, OptHome, home), nodeSpecs(f, 2), func(cfg *control.Config) { cfg.Progress = &progress })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "installing faultline (") || !strings.Contains(progress.String(), "on 2 node(s)") {
		t.Errorf("progress of the first install: %q", progress.String())
	}
	bin := c1.Binary("n1")
	if !strings.HasPrefix(bin, home+"/bin/faultline-") {
		t.Errorf("Binary = %s", bin)
	}
	ctx := ctxT(t, time.Minute)
	mtime := func(node string) string {
		out, err := f.Exec(ctx, node, "stat -c '%y %s %a' "+bin)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := []string{mtime("n1"), mtime("n2")}
	if !strings.HasSuffix(before[0], " 755\n") {
		t.Errorf("installed binary: %q", before[0])
	}
	progress.Reset()
	c2, err := tryNew(t, baseOptions(f, OptHome, home), nodeSpecs(f, 2), func(cfg *control.Config) { cfg.Progress = &progress })
	if err != nil {
		t.Fatal(err)
	}
	if c2.Binary("n2") != bin || progress.Len() != 0 {
		t.Errorf("second New: Binary %s, progress %q", c2.Binary("n2"), progress.String())
	}
	if after := []string{mtime("n1"), mtime("n2")}; after[0] != before[0] || after[1] != before[1] {
		t.Errorf("binary uploaded again: %q, then %q", before, after)
	}
	// A truncated copy is replaced.
	if _, err := f.Exec(ctx, "n1", "truncate -s 1000 "+bin); err != nil {
		t.Fatal(err)
	}
	progress.Reset()
	if _, err := tryNew(t, baseOptions(f, OptHome, home), nodeSpecs(f, 2), func(cfg *control.Config) { cfg.Progress = &progress }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "on 1 node(s)") || mtime("n2") != before[1] {
		t.Errorf("after truncating n1's copy: progress %q", progress.String())
	}
}
