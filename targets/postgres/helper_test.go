package postgres

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/control/local"
	"github.com/faultline-dev/faultline/control/local/localtest"
)

// requirePostgres skips the test when this host cannot run a real server
// (not root, no PostgreSQL, no postgres user), saying why; under CI
// (CI=true) it fails instead, as controltest.RequireRoot does.
func requirePostgres(t testing.TB) {
	t.Helper()
	controltest.RequireRoot(t)
	why := ""
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres"); len(m) == 0 {
		why = "no PostgreSQL server under /usr/lib/postgresql/*/bin: install it (apt-get install postgresql)"
	} else if _, err := user.Lookup("postgres"); err != nil {
		why = "no postgres user to run the server as: install PostgreSQL (apt-get install postgresql)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI=true forbids skipping it", why)
	}
	t.Skip(why)
}

// newTarget makes a local cluster of nodes and the postgres target on it,
// not yet set up. The test's cleanup tears both down, checks that no
// process or namespace is left, and shows the server's log if the test
// failed.
func newTarget(t testing.TB, nodes int, opts Options) (*local.Cluster, *Target) {
	t.Helper()
	requirePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := local.New(ctx, local.Options{Nodes: local.NodeNames(nodes), StoreDir: searchableTempDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d-node cluster %s (%s)", nodes, c.RunID(), c.Subnet())
	opts.Dir = searchableTempDir(t)
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 2 * time.Second
	}
	tg, err := New(c, opts)
	if err != nil {
		c.Teardown(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var pids []int
		if p := tg.running(ctx); p != nil {
			pids = append(pids, p.Pid())
			if kids, err := tg.children(ctx, p.Pid()); err == nil {
				pids = append(pids, pidsOf(kids)...)
			}
		}
		if err := tg.Teardown(ctx); err != nil {
			t.Errorf("target Teardown: %v", err)
		}
		if err := c.Teardown(ctx); err != nil {
			t.Errorf("cluster Teardown: %v", err)
		}
		localtest.AssertNoLeftovers(t, c.RunID(), pids)
		if t.Failed() {
			b, _ := os.ReadFile(tg.LogFiles(tg.Server())[0])
			s := string(b)
			if len(s) > 4000 {
				s = s[len(s)-4000:]
			}
			t.Logf("server log (last 4000 bytes):\n%s", s)
		}
	})
	return c, tg
}

// searchableTempDir is a temporary directory the postgres user can reach:
// t.TempDir and its parent are 0700, so they are made 0755.
func searchableTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
