package etcd

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSequentialWrites measures one client writing one key after
// another through a follower or leader of a healthy 5-member cluster.
func BenchmarkSequentialWrites(b *testing.B) {
	_, tg := newTarget(b, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := tg.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		b.Fatal(err)
	}
	cl, err := tg.Client("n1")
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var i int64
	for b.Loop() {
		i++
		if err := cl.Write(ctx, "bench", i); err != nil {
			b.Fatal(err)
		}
	}
}
