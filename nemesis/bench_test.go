package nemesis

import (
	"context"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/control/local"
	"github.com/faultline-dev/faultline/control/ssh"
	"github.com/faultline-dev/faultline/control/ssh/sshtest"
)

// benchPartition measures the time from the nemesis deciding a partition
// (Failer.Inject called) to its rules being in effect on every node (each
// agent has applied and checked them) — the partition is planned, journaled
// and applied in that time — and the time to heal it.
func benchPartition(b *testing.B, c control.Cluster) {
	ctx := context.Background()
	pool := agent.NewPool(c, agent.PoolOptions{Lease: time.Minute})
	defer pool.Close(ctx)
	env := &Env{Cluster: c, Agents: pool, DB: &fakeDB{}}
	j, err := OpenJournal(journalPathB(b), nil, pool.Session())
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	fl := NewFailer(newPartition(env), j)
	defer fl.Cleanup(ctx)
	if err := fl.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var inject, heal []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := fl.Inject(ctx, PartitionArgs{Grudge: GrudgeHalves}, rng); err != nil {
			b.Fatal(err)
		}
		inject = append(inject, time.Since(start))
		start = time.Now()
		if err := fl.Recover(ctx); err != nil {
			b.Fatal(err)
		}
		heal = append(heal, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(ms(median(inject)), "ms/partition")
	b.ReportMetric(ms(median(heal)), "ms/heal")
	b.ReportMetric(ms(quantile(inject, 0.9)), "ms/partition-p90")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration { return quantile(ds, 0.5) }

func quantile(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

func journalPathB(b *testing.B) string { return b.TempDir() + "/" + JournalFile }

// BenchmarkPartitionSSH5: five SSH nodes (sshd in namespaces of their
// own, reached only over SSH).
func BenchmarkPartitionSSH5(b *testing.B) {
	sshtest.Require(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := sshtest.Start(ctx, sshtest.Options{Nodes: 5})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	exe, _ := os.Executable()
	control.SetBinary(exe)
	var nodes []control.NodeSpec
	for _, n := range f.Nodes {
		nodes = append(nodes, control.NodeSpec{Name: n.Name, Host: n.Addr.String()})
	}
	c, err := control.New(ctx, ssh.BackendName, control.Config{Nodes: nodes}, map[string]string{"key": f.Key, "known-hosts": f.KnownHosts, "config": "none"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Teardown(context.Background())
	benchPartition(b, c)
}

// BenchmarkPartitionLocal5: five local nodes, for comparison.
func BenchmarkPartitionLocal5(b *testing.B) {
	controltest.RequireRoot(b)
	ctx := context.Background()
	c, err := local.New(ctx, local.Options{Nodes: local.NodeNames(5), StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Teardown(context.Background())
	benchPartition(b, c)
}
