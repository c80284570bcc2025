package agent

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/control/controltest"
	"golang.org/x/sys/unix"
)

// inNetns runs f on a thread of its own inside a new network namespace
// (iptables commands f runs inherit it), and removes the namespace after.
func inNetns(t *testing.T, f func()) {
	t.Helper()
	controltest.RequireRoot(t)
	name := fmt.Sprintf("fl-fwtest-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	done := make(chan error, 1)
	go func() {
		// The thread stays locked and ends with the goroutine: it never
		// goes back to the pool in another namespace.
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err == nil {
			f()
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("entering the namespace: %v", err)
	}
}

// A firewall manager that rewrites the ruleset between faultline's restore
// and its check (here: it drops the jump to faultline's chain from INPUT)
// is answered by setting the chain again, until it holds; one that keeps
// doing it is reported as such.
func TestSetChainRetriesWhenRulesetRewritten(t *testing.T) {
	clobber := func(times int) (calls *int) {
		calls = new(int)
		afterRestore = func(int) {
			*calls++
			if *calls <= times {
				if out, err := exec.Command("iptables", "-w", "5", "-D", "INPUT", "-j", RootChain).CombinedOutput(); err != nil {
					t.Errorf("the firewall manager's rewrite failed: %v: %s", err, out)
				}
			}
		}
		return calls
	}
	defer func() { afterRestore = nil }()
	var err1, err2 error
	var rules1 string
	var calls1, calls2 *int
	inNetns(t, func() {
		calls1 = clobber(2)
		err1 = setChain(PartitionChain, [][]string{{"-s", "192.0.2.9", "-j", "DROP"}})
		out, _ := exec.Command("iptables", "-w", "5", "-S").CombinedOutput()
		rules1 = string(out)
		calls2 = clobber(1000)
		err2 = setChain(PartitionChain, [][]string{{"-s", "192.0.2.10", "-j", "DROP"}})
	})
	if err1 != nil || *calls1 != 3 {
		t.Fatalf("after two rewrites: %v, %d attempts (want success at the third)", err1, *calls1)
	}
	for _, want := range []string{"-A INPUT -j " + RootChain, "-A " + PartitionChain + " -s 192.0.2.9/32 -j DROP"} {
		if !strings.Contains(rules1, want) {
			t.Errorf("rule %q missing:\n%s", want, rules1)
		}
	}
	if err2 == nil || !strings.Contains(err2.Error(), "firewall manager") || *calls2 != 5 {
		t.Errorf("a ruleset rewritten every time: %v after %d attempts, want an error naming a firewall manager after 5", err2, *calls2)
	}
}
