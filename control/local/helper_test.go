package local

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
)

// helperEnv makes the test binary act as a small program (see helperMain)
// instead of running tests, so tests can start real processes in nodes
// without depending on what the host has installed.
const helperEnv = "FAULTLINE_LOCAL_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain(os.Args[1:]))
	}
	if err := control.BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// helperMain: listen ADDR | dial ADDR | sleep | orphan.
func helperMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no command")
		return 2
	}
	switch args[0] {
	case "listen": // answer every connection with "pong" and our address
		l, err := net.Listen("tcp", args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("listening on", l.Addr())
		for {
			c, err := l.Accept()
			if err != nil {
				return 1
			}
			fmt.Fprintf(c, "pong from %s to %s\n", c.LocalAddr(), c.RemoteAddr())
			c.Close()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", args[1], 2*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Print(line)
		return 0
	case "sleep": // until SIGTERM, then exit 7
		fmt.Println("sleeping")
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		<-ch
		return 7
	case "orphan": // leave a sleeping child behind and exit
		// Output to /dev/null (nil), not io.Discard: that is a pipe this
		// process reads, and once it exits the child's "sleeping" would
		// meet a closed pipe and die of SIGPIPE before Cleanup finds it.
		c := exec.Command(os.Args[0], "sleep")
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(c.Process.Pid)
		return 0
	}
	fmt.Fprintln(os.Stderr, "helper: unknown command", args[0])
	return 2
}

// helperCmd is a control.Cmd running helperMain with args.
func helperCmd(t *testing.T, logPath string, args ...string) control.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return control.Cmd{Path: exe, Args: args, Env: []string{helperEnv + "=1"}, LogPath: logPath}
}
