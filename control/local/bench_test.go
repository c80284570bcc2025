package local

import (
	"context"
	"testing"

	"github.com/faultline-dev/faultline/control/controltest"
)

// BenchmarkNewTeardown5 measures making and removing a 5-node cluster.
func BenchmarkNewTeardown5(b *testing.B) {
	controltest.RequireRoot(b)
	ctx := context.Background()
	for b.Loop() {
		c, err := New(ctx, Options{Nodes: NodeNames(5)})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Teardown(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
