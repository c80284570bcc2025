package nemesis

import (
	"bufio"
	"context"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/local"
	clockskew "github.com/faultline-dev/faultline/nemesis/clock"
)

const clockPort = "7004"

// startProbes starts a clock probe in every node and returns their pids.
func startProbes(t *testing.T, c *local.Cluster) map[string][]int {
	t.Helper()
	pids := map[string][]int{}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range c.Nodes() {
		p, err := c.Start(context.Background(), n.Name, control.Cmd{Path: exe, Args: []string{"clockprobe", net.JoinHostPort(n.Addr.String(), clockPort)},
			Env: []string{helperEnv + "=1"}, LogPath: filepath.Join(dir, n.Name+".log")})
		if err != nil {
			t.Fatal(err)
		}
		pids[n.Name] = []int{p.Pid()}
	}
	// Teardown kills them; wait until they answer.
	for _, n := range c.Nodes() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := readProbe(n.Addr.String()); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("clock probe on %s does not answer", n.Name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return pids
}

// readProbe returns how far the probe's clock is ahead of ours.
func readProbe(host string) (time.Duration, error) {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, clockPort), time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	before := time.Now()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(ns - before.UnixNano()), nil
}

func probeOffset(t *testing.T, c *local.Cluster, node string) time.Duration {
	t.Helper()
	d, err := readProbe(addr(c, node))
	if err != nil {
		t.Fatalf("probe on %s: %v", node, err)
	}
	return d
}

func near(d, want time.Duration) bool {
	diff := d - want
	return diff > -time.Second && diff < time.Second
}

func TestClockBumpStrobeAndOffsets(t *testing.T) {
	c := newCluster(t, 3)
	probes := startProbes(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := newEnv(t, c, &fakeDB{procs: probes})
	fl := NewFailer(newClock(env), nil)
	defer fl.Cleanup(context.Background())
	rng := rand.New(rand.NewPCG(4, 4))
	nodes := []string{"n1", "n2", "n3"}

	t.Run("bump", func(t *testing.T) {
		if _, err := fl.Inject(ctx, ClockArgs{Mode: ClockBump, Offset: 90 * time.Second, Nodes: SelectNamed("n1", "n3")}, rng); err != nil {
			t.Fatal(err)
		}
		got := map[string]time.Duration{}
		for _, n := range nodes {
			got[n] = probeOffset(t, c, n)
		}
		offs, err := CheckOffsets(ctx, env, nodes)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("bump +90s on n1, n3: probes read %v; check-offsets %v", got, offsetsValue(offs))
		if !near(got["n1"], 90*time.Second) || !near(got["n3"], 90*time.Second) || !near(got["n2"], 0) {
			t.Errorf("probes read %v, want n1 and n3 90s ahead, n2 on time", got)
		}
		if offs["n1"] != 90*time.Second || offs["n3"] != 90*time.Second || offs["n2"] != 0 {
			t.Errorf("CheckOffsets = %v", offs)
		}
		if err := fl.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if d := probeOffset(t, c, n); !near(d, 0) {
				t.Errorf("after reset, %s reads %v", n, d)
			}
			for _, pid := range nodePids(t, c, n) {
				if _, skewed, err := clockskew.Offset(pid); err != nil || skewed {
					t.Errorf("after reset, pid %d on %s: skewed %v, %v", pid, n, skewed, err)
				}
			}
		}
	})

	t.Run("strobe", func(t *testing.T) {
		if _, err := fl.Inject(ctx, ClockArgs{Mode: ClockStrobe, Offset: 30 * time.Second, Period: 50 * time.Millisecond, Nodes: SelectNamed("n2")}, rng); err != nil {
			t.Fatal(err)
		}
		var on, off int
		for range 40 {
			d := probeOffset(t, c, "n2")
			switch {
			case near(d, 30*time.Second):
				on++
			case near(d, 0):
				off++
			default:
				t.Errorf("strobing probe reads %v", d)
			}
			time.Sleep(13 * time.Millisecond)
		}
		if err := fl.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("strobe 30s every 50ms on n2: of 40 readings, %d were 30s ahead and %d on time", on, off)
		if on == 0 || off == 0 {
			t.Errorf("strobe: %d readings ahead, %d on time; want both", on, off)
		}
		if d := probeOffset(t, c, "n2"); !near(d, 0) {
			t.Errorf("after the strobe, n2 reads %v", d)
		}
	})
}
