package procfs

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	rest := " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"
	for _, tc := range []struct {
		in   string
		want Stat
		err  string
	}{
		{"42 (etcd) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 9 0 12345 100 200", Stat{State: 'S', PPid: 7, Start: 12345}, ""},
		// A command name with ") T 1 (" in it must not fool the parser.
		{"42 (a) T 1 (b) R 3 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0", Stat{State: 'R', PPid: 3, Start: 99}, ""},
		{"42 (x", Stat{}, "malformed"},
		{"42 (x) ", Stat{}, "malformed"},
		{"42 (x) RR 1" + rest, Stat{}, "malformed"},
		{"42 (x) R one" + rest, Stat{}, "ppid"},
	} {
		got, err := Parse("/proc/42/stat", []byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "/proc/42/stat") {
				t.Errorf("Parse(%q) = %v, %v; want an error naming the file and %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestReadLiveAndGone(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	self, err := ReadStat(os.Getpid())
	if err != nil || self.PPid != os.Getppid() || self.Start == 0 {
		t.Fatalf("ReadStat(self) = %+v, %v", self, err)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer cmd.Process.Kill()
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	deadline := time.Now().Add(5 * time.Second)
	for {
		states, err := ThreadStates(pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(states) > 0 && states[0] == 'T' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread states of a stopped sleep: %q", states)
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, err := ReadStat(pid); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadStat of a reaped process: %v, want ErrNotExist", err)
	}
	if _, err := ThreadStates(pid); err == nil {
		t.Error("ThreadStates of a reaped process: no error")
	}
}
