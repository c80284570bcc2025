// Package imagestest holds helpers for tests that need faultline's images
// or a Docker engine.
package imagestest

import (
	"os"
	"testing"

	"github.com/docker/docker/client"

	"github.com/faultline-dev/faultline/images"
)

// Require returns a client of the local Docker engine, closed when tb ends.
// Without a reachable engine it skips tb, saying why, except under CI (env
// CI=true), where tb fails instead: CI must run these tests, not skip them.
func Require(tb testing.TB) *client.Client {
	tb.Helper()
	cli, err := images.NewClient()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v, and CI=true forbids skipping the test", err)
		}
		tb.Skip(err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}
