package ssh

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
)

func TestConcurrentExecs(t *testing.T) {
	_, c := newCluster(t, 1) // max-sessions 8, the default
	ctx := ctxT(t, time.Minute)
	const n = 30
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.Exec(ctx, "n1", control.Cmd{Path: "/bin/sh", Args: []string{"-c", "sleep 0.2; echo $0", strconv.Itoa(i)}})
			if err == nil && string(out) != strconv.Itoa(i)+"\n" {
				err = errors.New("output " + strconv.Quote(string(out)))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Errorf("Exec %d: %v", i, err)
		}
	}
	// 30 commands of 0.2 s, 8 at a time: at least 4 rounds.
	if took < 750*time.Millisecond {
		t.Errorf("30 Execs took %v: more than 8 ran at once", took)
	}
	t.Logf("30 Execs of 0.2 s, 8 at a time, in %v", took.Round(time.Millisecond))
}

func TestReconnect(t *testing.T) {
	f, c := newCluster(t, 1)
	ctx := ctxT(t, time.Minute)
	n := c.conns["n1"]
	p, err := c.Start(ctx, "n1", control.Cmd{Path: "/bin/sleep", Args: []string{"1005"}, LogPath: c.NodeDir("n1") + "/sleep.log"})
	if err != nil {
		t.Fatal(err)
	}

	// A command running when the connection drops: its outcome is
	// unknown, and it is not run again.
	errc := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, "n1", control.Cmd{Path: "/bin/sh", Args: []string{"-c", "echo x >> /tmp/runs; sleep 1"}})
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if !n.dropConnection() {
		t.Fatal("no connection to drop")
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("Exec across the drop: %v, want ErrOutcomeUnknown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Exec across the drop did not return")
	}

	// The next command reconnects.
	out, err := c.Exec(ctx, "n1", control.Cmd{Path: "hostname"})
	if err != nil || string(out) != "n1\n" {
		t.Fatalf("Exec after the drop: %q %v", out, err)
	}
	if out, err := f.Exec(ctx, "n1", "cat /tmp/runs; rm /tmp/runs"); err != nil || out != "x\n" {
		t.Errorf("the dropped command ran %q times (%v), want once", out, err)
	}

	// The started process outlived its session, and is polled now.
	select {
	case <-p.Done():
		t.Fatal("Done after the connection dropped, but the process runs")
	case <-time.After(1500 * time.Millisecond):
	}
	if st := procState(t, f, "n1", p.Pid()); st != "S" {
		t.Errorf("state after the drop: %q", st)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if st, err := p.Wait(wctx); err != nil || st.Code != -1 {
		t.Errorf("Wait after the drop: %+v %v", st, err)
	}

	// A piped process is Done when its session breaks (its stdin is gone,
	// so cat ends on the node).
	inR, inW := io.Pipe()
	defer inW.Close()
	piped, err := c.Start(ctx, "n1", control.Cmd{Path: "/bin/cat", Stdin: inR, Stdout: io.Discard, LogPath: c.NodeDir("n1") + "/cat.log"})
	if err != nil {
		t.Fatal(err)
	}
	n.dropConnection()
	if st, err := piped.Wait(wctx); !errors.Is(err, ErrOutcomeUnknown) || st.Code != -1 {
		t.Errorf("Wait of a piped process across a drop: %+v %v", st, err)
	}
	waitNodeGone(t, f, "n1", "/bin/cat")

	// Drop, then Start and Signal at once.
	n.dropConnection()
	p, err = c.Start(ctx, "n1", control.Cmd{Path: "/bin/sleep", Args: []string{"1006"}, LogPath: c.NodeDir("n1") + "/sleep.log"})
	if err != nil {
		t.Fatal(err)
	}
	n.dropConnection()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(wctx); err != nil || st.Code != -1 {
		t.Errorf("Wait: %+v %v", st, err)
	}
}

func TestKeepalive(t *testing.T) {
	f, c := newCluster(t, 1, OptKeepalive, "200ms")
	ctx := ctxT(t, time.Minute)
	n := c.conns["n1"]
	n.mu.Lock()
	l := n.link
	n.mu.Unlock()
	port := l.raw.LocalAddr().(*net.TCPAddr).Port
	// Freeze the sshd processes serving this connection: the TCP
	// connection stays up, but nothing answers.
	out, err := f.Exec(ctx, "n1", "ss -Htnp state established '( sport = :22 and dport = :"+strconv.Itoa(port)+" )'")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, m := range regexp.MustCompile(`pid=(\d+)`).FindAllStringSubmatch(out, -1) {
		pids = append(pids, m[1])
	}
	if len(pids) == 0 {
		t.Fatalf("no sshd for port %d: %q", port, out)
	}
	if _, err := f.Exec(ctx, "n1", "kill -STOP "+strings.Join(pids, " ")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Exec(context.Background(), "n1", "kill -KILL "+strings.Join(pids, " ")) })
	start := time.Now()
	select {
	case <-l.done:
		t.Logf("a frozen peer noticed after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("keepalives did not notice a frozen peer in 5s")
	}
	if out, err := c.Exec(ctx, "n1", control.Cmd{Path: "hostname"}); err != nil || string(out) != "n1\n" {
		t.Errorf("Exec after the keepalive closed the connection: %q %v", out, err)
	}
}

func TestRefAttach(t *testing.T) {
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	ctx := ctxT(t, time.Minute)
	// Through the registry, as the CLI does.
	cl, err := control.New(ctx, "ssh", control.Config{Nodes: nodeSpecs(f, 2), Logf: testLogf(t)}, baseOptions(f))
	if err != nil {
		t.Fatal(err)
	}
	c := cl.(*Cluster)
	p, err := c.Start(ctx, "n1", control.Cmd{Path: "/bin/sleep", Args: []string{"1007"}, LogPath: c.NodeDir("n1") + "/sleep.log"})
	if err != nil {
		t.Fatal(err)
	}
	ref := c.Ref()
	b, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ref: %s", b)
	for _, s := range Specs {
		if _, ok := ref.Options[s.Name]; !ok {
			t.Errorf("Ref's options lack %s", s.Name)
		}
	}
	if ref.Backend != "ssh" || ref.RunID != c.RunID() || len(ref.Nodes) != 2 || ref.Nodes[1].Addr != f.Nodes[1].Addr.String() ||
		ref.Nodes[1].Dir != c.NodeDir("n2") || ref.Nodes[1].Binary != c.Binary("n2") ||
		string(ref.Nodes[1].Locator) != `{"host":"`+f.Nodes[1].Addr.String()+`","port":22,"user":"root"}` {
		t.Errorf("ref: %s", b)
	}

	// Disconnect leaves everything running.
	c.Disconnect()
	if _, err := c.Exec(ctx, "n1", control.Cmd{Path: "true"}); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Exec after Disconnect: %v, want ErrDisconnected", err)
	}
	if st := procState(t, f, "n1", p.Pid()); st != "S" {
		t.Errorf("state after Disconnect: %q", st)
	}
	// n2 lost its agent binary meanwhile: Attach installs it again.
	if _, err := f.Exec(ctx, "n2", "rm "+c.Binary("n2")); err != nil {
		t.Fatal(err)
	}

	var back control.Ref
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	cl2, err := control.Attach(ctx, back, control.Config{Logf: testLogf(t)})
	if err != nil {
		t.Fatal(err)
	}
	c2 := cl2.(*Cluster)
	if c2.RunID() != c.RunID() || c2.NodeDir("n1") != c.NodeDir("n1") || c2.Binary("n2") != c.Binary("n2") {
		t.Errorf("attached: run %s dir %s binary %s", c2.RunID(), c2.NodeDir("n1"), c2.Binary("n2"))
	}
	if _, err := f.Exec(ctx, "n2", "test -x "+c.Binary("n2")); err != nil {
		t.Errorf("Attach did not install the binary again: %v", err)
	}
	p2, err := c2.Adopt(ctx, "n1", p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := c2.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	waitNodeGone(t, f, "n1", "sleep 1007")
	if out, err := f.Exec(ctx, "n1", "test ! -e "+c.NodeDir("n1")+" || echo left"); err != nil || out != "" {
		t.Errorf("after Teardown: %q %v", out, err)
	}
	select {
	case <-p2.Done():
	default:
		t.Error("the adopted process is not Done after Teardown")
	}
}

func BenchmarkExec(b *testing.B) {
	f := fixture(b)
	b.Setenv("SSH_AUTH_SOCK", "")
	c, err := tryNew(b, baseOptions(f), nodeSpecs(f, 1))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Exec(ctx, "n1", control.Cmd{Path: "/bin/true"}); err != nil {
			b.Fatal(err)
		}
	}
}
