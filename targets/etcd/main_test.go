package etcd

import (
	"fmt"
	"os"
	"testing"

	"github.com/faultline-dev/faultline/agent/agenttest"
	"github.com/faultline-dev/faultline/control"
)

// memberEnv makes the test binary run MemberMain instead of tests, so the
// integration test starts real members without building the faultline
// binary: the target's Command is [test binary, "etcd-member"].
const memberEnv = "FAULTLINE_TEST_ETCD_MEMBER"

func TestMain(m *testing.M) {
	agenttest.Dispatch()
	if os.Getenv(memberEnv) == "1" && len(os.Args) > 1 && os.Args[1] == MemberCommand {
		if err := MemberMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if err := control.BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
