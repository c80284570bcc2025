package control

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestProcStatParsesOddNames(t *testing.T) {
	state, ppid, start, ok := procStat(os.Getpid())
	if !ok || ppid != os.Getppid() || start == 0 || (state != 'R' && state != 'S') {
		t.Fatalf("procStat(self) = %c, %d, %v; want R or S, %d, true", state, ppid, ok, os.Getppid())
	}
}

// An orphan of a child is re-parented to this process and reaped by the
// reaper once it exits; a child this process waits for itself is not taken
// from it.
func TestSubreaperReapsOrphans(t *testing.T) {
	if err := BecomeSubreaper(); err != nil {
		t.Fatal(err)
	}
	// sh starts sleep in the background and exits at once: sleep is
	// orphaned, re-parented to us, and exits 0.2 s later.
	sh := exec.Command("/bin/sh", "-c", "sleep 0.2 & echo $!")
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	var orphan int
	if _, err := fmt.Sscan(string(out), &orphan); err != nil {
		t.Fatalf("parsing orphan pid from %q: %v", out, err)
	}
	if _, ppid, _, ok := procStat(orphan); ok && ppid != os.Getpid() {
		t.Fatalf("orphan %d has parent %d, want this process %d", orphan, ppid, os.Getpid())
	}
	deadline := time.Now().Add(ReapGrace + 3*time.Second)
	for {
		if _, _, _, ok := procStat(orphan); !ok {
			break // reaped
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d not reaped after %v", orphan, ReapGrace+3*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A direct child that we wait for, late but within ReapGrace, still
	// gives its status to us.
	c := exec.Command("/bin/sh", "-c", "exit 3")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ReapGrace / 2)
	err = c.Wait()
	if c.ProcessState == nil || c.ProcessState.ExitCode() != 3 {
		t.Fatalf("late Wait = %v, %v; want exit status 3", c.ProcessState, err)
	}
}

// An Owner is alive while its process runs, and not once it has gone or
// its pid names another process.
func TestOwnerAlive(t *testing.T) {
	me := Self()
	if me.Pid != os.Getpid() || me.Start == 0 || !me.Alive() {
		t.Fatalf("Self() = %+v, alive %v", me, me.Alive())
	}
	if (Owner{Pid: me.Pid, Start: me.Start + 1}).Alive() {
		t.Error("an owner whose start time differs (a recycled pid) is alive")
	}
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Skip(err)
	}
	if (Owner{Pid: c.Process.Pid, Start: me.Start}).Alive() {
		t.Error("an exited process is alive")
	}
}
