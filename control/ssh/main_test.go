package ssh

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/ssh/sshtest"
	"github.com/faultline-dev/faultline/internal/options"
)

// TestMain makes the test binary faultline's agent too: the backend
// installs this binary on the fixture's nodes and runs `<it> agent VERB`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == agent.Command {
		os.Exit(agent.Main(os.Args[2:]))
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	control.SetBinary(exe)
	code := m.Run()
	if shared.f != nil {
		if err := shared.f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// shared is the package's one fixture, started by the first test that
// needs it and closed by TestMain.
var shared struct {
	once sync.Once
	f    *sshtest.Fixture
	err  error
}

const fixtureNodes = 4

func fixture(tb testing.TB) *sshtest.Fixture {
	tb.Helper()
	sshtest.Require(tb)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		shared.f, shared.err = sshtest.Start(ctx, sshtest.Options{Nodes: fixtureNodes, SudoUser: true, PasswordSudoUser: true})
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "sshtest fixture %s: %d nodes in %s, up in %v\n", shared.f.ID, fixtureNodes, shared.f.Subnet, time.Since(start).Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.f
}

// baseOptions log in with the fixture's key, verify against its
// known_hosts, and ignore ~/.ssh/config.
func baseOptions(f *sshtest.Fixture, kv ...string) map[string]string {
	m := map[string]string{OptKey: f.Key, OptKnownHosts: f.KnownHosts, OptConfig: "none"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// nodeSpecs names the fixture's first n nodes (all if n is 0) by IP.
func nodeSpecs(f *sshtest.Fixture, n int) []control.NodeSpec {
	if n == 0 {
		n = len(f.Nodes)
	}
	var out []control.NodeSpec
	for _, fn := range f.Nodes[:n] {
		out = append(out, control.NodeSpec{Name: fn.Name, Host: fn.Addr.String()})
	}
	return out
}

// testLogf logs to t until the test ends (background goroutines may log
// a little later).
func testLogf(tb testing.TB) func(string, ...any) {
	var mu sync.Mutex
	done := false
	tb.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			tb.Logf(format, args...)
		}
	}
}

// tryNew is New with the given options and nodes; on success it tears
// the cluster down when the test ends.
func tryNew(tb testing.TB, opts map[string]string, specs []control.NodeSpec, mod ...func(*control.Config)) (*Cluster, error) {
	tb.Helper()
	logf := testLogf(tb)
	v, err := options.Resolve("control backend ssh", Specs, opts)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := control.Config{Nodes: specs, Options: v, Logf: logf}
	for _, m := range mod {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Teardown(ctx); err != nil {
			tb.Errorf("Teardown: %v", err)
		}
	})
	return c, nil
}

// newCluster is a cluster of the fixture's first n nodes (all for 0),
// with SSH_AUTH_SOCK unset so that only the options' key is offered.
func newCluster(t *testing.T, n int, kv ...string) (*sshtest.Fixture, *Cluster) {
	t.Helper()
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	c, err := tryNew(t, baseOptions(f, kv...), nodeSpecs(f, n))
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
