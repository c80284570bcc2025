// Package localtest holds helpers for tests of code that runs on a
// control/local cluster, such as the targets.
//
// It imports control/local, so control/local's own (in-package) tests
// cannot use it; they have their own, finer checks.
package localtest

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/local"
)

// AssertNoLeftovers reports, as test errors, whatever local cluster runID
// left on this host after its teardown: its network namespaces, its host
// link, and any of pids still present. Processes get control.ReapGrace plus
// a few seconds to go (orphans are reaped by the subreaper within
// ReapGrace); one that stays is reported with its state letter.
func AssertNoLeftovers(t testing.TB, runID string, pids []int) {
	t.Helper()
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), local.Prefix+runID+"-") {
			t.Errorf("namespace %s left behind", e.Name())
		}
	}
	if _, err := net.InterfaceByName(local.Prefix + runID); err == nil {
		t.Errorf("link %s left behind", local.Prefix+runID)
	}
	deadline := time.Now().Add(control.ReapGrace + 3*time.Second)
	for _, pid := range pids {
		for {
			st, err := control.ProcState(pid)
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("process %d left behind (state %c)", pid, st)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
