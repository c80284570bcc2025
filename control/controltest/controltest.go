// Package controltest holds helpers for tests of control backends and of
// code that runs on them.
package controltest

import (
	"os"
	"testing"
)

// RequireRoot skips the test when this process cannot make network
// namespaces (not root), saying why, except under CI (env CI=true), where
// the test fails instead: CI must run these tests, not skip them.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	const why = "needs root to create network namespaces, veth links and bridges; run as root (e.g. sudo go test)"
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s, and CI=true forbids skipping it", why)
	}
	tb.Skip(why)
}
