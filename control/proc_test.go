package control

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestProcState(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skipf("no /proc: %v", err)
	}
	st, err := ProcState(os.Getpid())
	if err != nil || (st != 'R' && st != 'S') {
		t.Errorf("own state %q, %v; want R or S", st, err)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	pid := cmd.Process.Pid
	waitState := func(want byte) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, err := ProcState(pid)
			if err == nil && st == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("process %d state %q (%v), want %c", pid, st, err, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitState('S')
	cmd.Process.Signal(syscall.SIGSTOP)
	waitState('T')
	cmd.Process.Kill()
	waitState('Z') // killed, not yet waited for
	cmd.Wait()
	if st, err := ProcState(pid); !errors.Is(err, os.ErrNotExist) || st != 0 {
		t.Errorf("reaped process: state %q, %v; want 0 and ErrNotExist", st, err)
	}
}
