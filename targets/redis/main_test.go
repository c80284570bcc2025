package redis

import (
	"fmt"
	"os"
	"testing"

	"github.com/faultline-dev/faultline/agent/agenttest"
	"github.com/faultline-dev/faultline/control"
)

func TestMain(m *testing.M) {
	agenttest.Dispatch()
	// A killed server's snapshot child is re-parented to this process,
	// not to a slow PID 1.
	if err := control.BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := closeShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}
