package postgres

import (
	"fmt"
	"os"
	"testing"

	"github.com/faultline-dev/faultline/agent/agenttest"
	"github.com/faultline-dev/faultline/control"
)

func TestMain(m *testing.M) {
	agenttest.Dispatch()
	// Killed backends are re-parented to this process, not to a slow PID 1.
	if err := control.BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
