package clock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The probes, built once by TestMain.
var probes struct {
	goBin string // testdata/clockprobe
	goErr error
	cBin  string // testdata/cprobe, built with gcc if there is one
	cNote string // why there is no C probe
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clock-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	probes.goBin, probes.goErr = buildGoProbe(dir)
	probes.cBin, probes.cNote = buildCProbe(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildGoProbe(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	out := filepath.Join(dir, "clockprobe")
	if b, err := exec.Command(goTool, "build", "-o", out, "./testdata/clockprobe").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./testdata/clockprobe: %v\n%s", err, b)
	}
	return out, nil
}

func buildCProbe(dir string) (string, string) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		return "", "gcc is not installed"
	}
	out := filepath.Join(dir, "cprobe")
	if b, err := exec.Command(cc, "-O2", "-Wall", "-o", out, "testdata/cprobe/cprobe.c").CombinedOutput(); err != nil {
		return "", fmt.Sprintf("gcc testdata/cprobe/cprobe.c: %v\n%s", err, b)
	}
	return out, ""
}

// requirePtrace skips a test that needs root, except under CI=true, where a
// skipped integration test would hide that nothing was proven.
func requirePtrace(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		reason := fmt.Sprintf("needs root: it ptraces other processes and writes their memory (euid %d)", os.Geteuid())
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI=true, so this is a failure, not a skip", reason)
		}
		t.Skip(reason)
	}
	if probes.goErr != nil {
		t.Fatal(probes.goErr)
	}
}

// checkHostClock records the host clock and, at cleanup, fails the test if
// the host's wall clock moved against its monotonic clock (we must never set
// it) or if a fresh process (date) disagrees with ours.
func checkHostClock(t *testing.T) {
	start := time.Now()
	t.Cleanup(func() {
		now := time.Now()
		wall := time.Duration(now.UnixNano() - start.UnixNano())
		mono := now.Sub(start)
		if d := wall - mono; d > 50*time.Millisecond || d < -50*time.Millisecond {
			t.Errorf("host wall clock moved by %v against the monotonic clock during the test", d)
		}
		out, err := exec.Command("date", "+%s%N").Output()
		if err != nil {
			t.Errorf("date: %v", err)
			return
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			t.Errorf("date printed %q", out)
			return
		}
		if d := time.Duration(ns - time.Now().UnixNano()); d > time.Second || d < -time.Second {
			t.Errorf("date disagrees with this process's clock by %v", d)
		} else {
			t.Logf("host clock untouched: wall-mono drift %v over the test, date vs test %v", wall-mono, d.Round(time.Millisecond))
		}
		if _, err := pristine(); err != nil {
			t.Errorf("this process's own vDSO: %v", err)
		}
	})
}

// probe is a running probe process. Like control/local, a goroutine waits for
// it from the start, so an early return of Wait (a ptrace stop collected by
// the wrong thread) shows as the probe "exiting".
type probe struct {
	t      *testing.T
	cmd    *exec.Cmd
	pid    int // the probe (for viaShell, the shell's child)
	in     io.WriteCloser
	lines  chan string
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startProbe starts bin. viaShell starts it as the child of a shell, so that
// it is not a child of this process and is traced from this process.
func startProbe(t *testing.T, viaShell bool, env []string, bin string, args ...string) *probe {
	t.Helper()
	var cmd *exec.Cmd
	if viaShell {
		// A background job's stdin would be /dev/null: hand it fd 3.
		cmd = exec.Command("/bin/sh", append([]string{"-c", `exec 3<&0; "$0" "$@" <&3 3<&- & wait`, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &probe{t: t, cmd: cmd, pid: cmd.Process.Pid, in: in, lines: make(chan string, 1024), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.stop)
	if viaShell {
		p.pid = waitForChild(t, cmd.Process.Pid, bin)
	}
	return p
}

// waitForChild finds the child of ppid that runs bin.
func waitForChild(t *testing.T, ppid int, bin string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		kids, _ := descendants(ppid)
		for _, k := range kids {
			if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", k)); err == nil && exe == bin {
				return k
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no child of %d runs %s", ppid, bin)
	return 0
}

// stop restores the probe if it is still skewed, then kills it (and its
// shell) and waits for it.
func (p *probe) stop() {
	if st, err := Inspect(p.pid); err == nil && st.Skewed {
		if err := Reset(p.pid); err != nil {
			p.t.Errorf("cleanup: Reset(%d): %v", p.pid, err)
		}
	}
	// Kill the probe; a shell above it reaps it and exits (killing the shell
	// first would leave the probe to PID 1, which reaps slowly).
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
	select {
	case <-p.exited:
		return
	case <-time.After(5 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.t.Errorf("cleanup: probe %d did not exit", p.pid)
	}
}

func (p *probe) checkAlive() {
	p.t.Helper()
	select {
	case <-p.exited:
		p.t.Fatalf("probe %d exited (its Wait returned): %v", p.pid, p.err)
	default:
	}
	if st, err := processStat(p.pid); err != nil || st.State == 'Z' {
		p.t.Fatalf("probe %d is gone or a zombie (%v)", p.pid, err)
	}
}

// reading is one line of a probe, with the test's clock just before the
// request and just after the answer.
type reading struct {
	v             map[string]int64
	before, after time.Time
}

func (p *probe) ask() reading {
	p.t.Helper()
	r := reading{before: time.Now()}
	if _, err := io.WriteString(p.in, "\n"); err != nil {
		p.t.Fatalf("writing to probe %d: %v", p.pid, err)
	}
	r.v = p.next(10 * time.Second)
	r.after = time.Now()
	return r
}

func (p *probe) next(timeout time.Duration) map[string]int64 {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("probe %d closed its output", p.pid)
		}
		v := map[string]int64{}
		for _, f := range strings.Fields(l) {
			k, s, _ := strings.Cut(f, "=")
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				p.t.Fatalf("probe %d printed %q", p.pid, l)
			}
			v[k] = n
		}
		return v
	case <-time.After(timeout):
		p.t.Fatalf("probe %d did not answer within %v", p.pid, timeout)
	}
	return nil
}

// skew is the probe's wall clock (field, in ns) minus the test's, bracketed
// by the test's clock before the request and after the answer.
func (r reading) skew(field string) (lo, hi time.Duration) {
	w := r.v[field]
	return time.Duration(w - r.after.UnixNano()), time.Duration(w - r.before.UnixNano())
}

// wantSkew checks that the probe's field reads the test's time plus want.
// slack covers coarse clocks (a tick behind) and microsecond rounding.
func wantSkew(t *testing.T, r reading, field string, want, slack time.Duration) time.Duration {
	t.Helper()
	lo, hi := r.skew(field)
	if want < lo-slack || want > hi+slack {
		t.Errorf("%s: skew in [%v, %v], want %v (±%v)", field, lo, hi, want, slack)
	}
	return (lo + hi) / 2
}

// wantSkewSeconds checks a field in whole seconds (time(), Unix()).
func wantSkewSeconds(t *testing.T, r reading, field string, want time.Duration) {
	t.Helper()
	got := time.Duration(r.v[field]) * time.Second
	lo := time.Duration(r.before.Unix())*time.Second + want - time.Second
	hi := time.Duration(r.after.Unix())*time.Second + want + time.Second
	if got < lo || got > hi {
		t.Errorf("%s = %d s, want %v ahead of the test's %d..%d s", field, r.v[field], want, r.before.Unix(), r.after.Unix())
	}
}

func wantOffset(t *testing.T, pid int, want time.Duration, wantSkewed bool) {
	t.Helper()
	got, skewed, err := Offset(pid)
	if err != nil || got != want || skewed != wantSkewed {
		t.Errorf("Offset(%d) = %v, %v, %v; want %v, %v, nil", pid, got, skewed, err, want, wantSkewed)
	}
}

func TestSkewGoProcess(t *testing.T) {
	requirePtrace(t)
	for _, tc := range []struct {
		name     string
		viaShell bool
	}{
		{"child, traced by a helper process", false},
		{"grandchild, traced in-process", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHostClock(t)
			p := startProbe(t, tc.viaShell, nil, probes.goBin)
			if got := useHelper(p.pid); got == tc.viaShell {
				t.Fatalf("useHelper(%d) = %v", p.pid, got)
			}
			r0 := p.ask()
			wantSkew(t, r0, "wall", 0, 5*time.Millisecond)
			wantOffset(t, p.pid, 0, false)

			start := time.Now()
			if err := Skew(p.pid, 60*time.Second, Options{}); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			r1 := p.ask()
			got := wantSkew(t, r1, "wall", 60*time.Second, 5*time.Millisecond)
			wantSkewSeconds(t, r1, "unix", 60*time.Second)
			wantOffset(t, p.pid, 60*time.Second, true)
			st, err := Inspect(p.pid)
			if err != nil || len(st.Hooks) == 0 || st.Hooks[0].Symbol != "__vdso_clock_gettime" || st.Clocks != WallClocks {
				t.Errorf("Inspect = %+v, %v", st, err)
			}
			t.Logf("Skew(+60s) took %v; the probe reads %v ahead; hooks %+v, stub at %#x", took, got, st.Hooks, st.Stub)
			wantSkew(t, p.ask(), "wall", 60*time.Second, 5*time.Millisecond)
			if found, err := FindSkewed(); err != nil || !contains(found, p.pid) {
				t.Errorf("FindSkewed() = %v, %v; want it to list %d", found, err, p.pid)
			}

			if err := Skew(p.pid, -5*time.Minute, Options{}); err != nil {
				t.Fatal(err)
			}
			r2 := p.ask()
			got = wantSkew(t, r2, "wall", -5*time.Minute, 5*time.Millisecond)
			wantOffset(t, p.pid, -5*time.Minute, true)
			if st2, _ := Inspect(p.pid); st2.Stub != st.Stub {
				t.Errorf("changing the offset moved the stub from %#x to %#x", st.Stub, st2.Stub)
			}
			t.Logf("Skew(-5m): the probe reads %v", got)

			// The probe's monotonic clock kept pace with ours through both
			// changes: its time.Since(start) advanced by what ours did.
			dMono := time.Duration(r2.v["mono"] - r1.v["mono"])
			if lo, hi := r2.before.Sub(r1.after), r2.after.Sub(r1.before); dMono < lo-time.Millisecond || dMono > hi+time.Millisecond {
				t.Errorf("the probe's monotonic clock advanced %v between two readings, ours %v..%v", dMono, lo, hi)
			} else {
				t.Logf("monotonic: the probe's advanced %v, ours %v..%v", dMono, lo, hi)
			}

			if err := Reset(p.pid); err != nil {
				t.Fatal(err)
			}
			r3 := p.ask()
			got = wantSkew(t, r3, "wall", 0, 5*time.Millisecond)
			wantOffset(t, p.pid, 0, false)
			t.Logf("Reset: the probe reads %v", got)
			if err := Reset(p.pid); err != nil {
				t.Errorf("Reset of a process that is not skewed: %v", err)
			}
			if found, _ := FindSkewed(); contains(found, p.pid) {
				t.Errorf("FindSkewed() still lists %d after Reset", p.pid)
			}

			// Skew again: the stub page left by Reset is reused.
			if err := Skew(p.pid, time.Hour, Options{}); err != nil {
				t.Fatal(err)
			}
			wantSkew(t, p.ask(), "wall", time.Hour, 5*time.Millisecond)
			if st3, _ := Inspect(p.pid); st3.Stub != st.Stub {
				t.Errorf("a second Skew mapped a new stub at %#x instead of reusing %#x", st3.Stub, st.Stub)
			}
			if err := Reset(p.pid); err != nil {
				t.Fatal(err)
			}
			wantSkew(t, p.ask(), "wall", 0, 5*time.Millisecond)
			p.checkAlive()
		})
	}
}

func contains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestSkewChildren(t *testing.T) {
	requirePtrace(t)
	checkHostClock(t)
	p := startProbe(t, true, nil, probes.goBin)
	shell := p.cmd.Process.Pid
	if err := Skew(shell, 45*time.Second, Options{Children: true}); err != nil {
		t.Fatal(err)
	}
	got := wantSkew(t, p.ask(), "wall", 45*time.Second, 5*time.Millisecond)
	wantOffset(t, shell, 45*time.Second, true)
	wantOffset(t, p.pid, 45*time.Second, true)
	t.Logf("Skew(shell, +45s, Children): the shell's child reads %v", got)
	if err := Reset(shell); err != nil {
		t.Fatal(err)
	}
	wantSkew(t, p.ask(), "wall", 0, 5*time.Millisecond)
	wantOffset(t, shell, 0, false)
	wantOffset(t, p.pid, 0, false)
	p.checkAlive()
}

func TestSkewCProcess(t *testing.T) {
	requirePtrace(t)
	if probes.cBin == "" {
		t.Skipf("no C probe: %s", probes.cNote)
	}
	checkHostClock(t)
	p := startProbe(t, false, nil, probes.cBin)
	monoNow := func() time.Duration {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ts.Nano())
	}
	// askMono also brackets the probe's CLOCK_MONOTONIC with ours: the same
	// clock, system-wide.
	askMono := func() (reading, time.Duration, time.Duration) {
		lo := monoNow()
		r := p.ask()
		return r, time.Duration(r.v["mono"]) - monoNow(), time.Duration(r.v["mono"]) - lo
	}
	const coarse = 20 * time.Millisecond // CLOCK_REALTIME_COARSE lags by up to a tick
	for _, tc := range []struct {
		name              string
		offset            time.Duration
		clocks            ClockSet
		rt, rtc, gt, mono bool // which readings are shifted
	}{
		{"default: wall clocks", 60 * time.Second, 0, true, true, true, false},
		{"realtime and monotonic", 60 * time.Second, Clocks(Realtime, Monotonic), true, false, true, true},
		{"monotonic only", -90 * time.Second, Clocks(Monotonic), false, false, false, true},
		{"negative, wall clocks", -5 * time.Minute, WallClocks, true, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Skew(p.pid, tc.offset, Options{Clocks: tc.clocks}); err != nil {
				t.Fatal(err)
			}
			r, monoLo, monoHi := askMono()
			shifted := func(on bool) time.Duration {
				if on {
					return tc.offset
				}
				return 0
			}
			rt := wantSkew(t, r, "rt", shifted(tc.rt), time.Millisecond)
			wantSkew(t, r, "rtc", shifted(tc.rtc), coarse)
			wantSkew(t, r, "gtod", shifted(tc.gt), time.Millisecond)
			wantSkewSeconds(t, r, "time", shifted(tc.gt))
			if m := shifted(tc.mono); m < monoLo-time.Millisecond || m > monoHi+time.Millisecond {
				t.Errorf("CLOCK_MONOTONIC: skew in [%v, %v], want %v", monoLo, monoHi, m)
			}
			wantOffset(t, p.pid, tc.offset, true)
			t.Logf("offset %v clocks %v: CLOCK_REALTIME %v, CLOCK_MONOTONIC %v..%v", tc.offset, Options{Clocks: tc.clocks}.clocks(), rt, monoLo, monoHi)
		})
	}
	if err := Reset(p.pid); err != nil {
		t.Fatal(err)
	}
	r, monoLo, monoHi := askMono()
	for _, f := range []string{"rt", "gtod"} {
		wantSkew(t, r, f, 0, time.Millisecond)
	}
	wantSkew(t, r, "rtc", 0, coarse)
	wantSkewSeconds(t, r, "time", 0)
	if monoLo > time.Millisecond || monoHi < -time.Millisecond {
		t.Errorf("CLOCK_MONOTONIC after Reset: skew in [%v, %v], want 0", monoLo, monoHi)
	}
	wantOffset(t, p.pid, 0, false)
	p.checkAlive()
}

// waitState waits until pid is in state (from /proc/PID/stat).
func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := processStat(pid)
		if err == nil && st.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d: state %c (%v), want %c", pid, st.State, err, state)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stillStopped checks that pid stays stopped for a while.
func stillStopped(t *testing.T, pid int, what string) {
	t.Helper()
	for i := 0; i < 15; i++ {
		if st, err := processStat(pid); err != nil || st.State != 'T' {
			t.Fatalf("%s: pid %d is in state %c (%v), want T (stopped)", what, pid, st.State, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSkewStoppedProcess(t *testing.T) {
	requirePtrace(t)
	checkHostClock(t)
	p := startProbe(t, false, []string{"GOMAXPROCS=4"}, probes.goBin, "-busy", "2")
	wantSkew(t, p.ask(), "wall", 0, 5*time.Millisecond)
	if err := syscall.Kill(p.pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, p.pid, 'T')
	if err := Skew(p.pid, 60*time.Second, Options{}); err != nil {
		t.Fatal(err)
	}
	stillStopped(t, p.pid, "after Skew")
	wantOffset(t, p.pid, 60*time.Second, true)

	// A request is not answered while the probe is stopped...
	if _, err := io.WriteString(p.in, "\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-p.lines:
		t.Fatalf("a stopped probe answered %q", l)
	case <-time.After(300 * time.Millisecond):
	}
	// ... and is once it continues, with the skew.
	before := time.Now()
	if err := syscall.Kill(p.pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	r := reading{before: before, v: p.next(10 * time.Second), after: time.Now()}
	got := wantSkew(t, r, "wall", 60*time.Second, 5*time.Millisecond)
	t.Logf("stopped through Skew, then SIGCONT: the probe reads %v ahead", got)

	// Reset of a stopped process leaves it stopped too.
	if err := syscall.Kill(p.pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, p.pid, 'T')
	if err := Reset(p.pid); err != nil {
		t.Fatal(err)
	}
	stillStopped(t, p.pid, "after Reset")
	wantOffset(t, p.pid, 0, false)
	if err := syscall.Kill(p.pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	wantSkew(t, p.ask(), "wall", 0, 5*time.Millisecond)
	p.checkAlive()
}

func TestStrobeBusyProcess(t *testing.T) {
	requirePtrace(t)
	for _, tc := range []struct {
		name     string
		viaShell bool
	}{
		{"child, traced by a helper process", false},
		{"grandchild, traced in-process", true},
	} {
		t.Run(tc.name, func(t *testing.T) { strobeBusy(t, tc.viaShell) })
	}
}

// strobeBusy patches and unpatches a Go process whose goroutines read the
// clock all the time, 50 times, then strobes it, and checks that it lives on,
// that every reading was plausible and that the skew showed.
func strobeBusy(t *testing.T, viaShell bool) {
	checkHostClock(t)
	const delta = 30 * time.Second
	p := startProbe(t, viaShell, []string{"GOMAXPROCS=4"}, probes.goBin, "-busy", "8", "-expect", delta.String())
	var threads []int
	for deadline := time.Now().Add(5 * time.Second); len(threads) < 5 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		threads, _ = listTasks(p.pid)
	}
	if len(threads) < 5 {
		t.Fatalf("the busy probe has %d threads, want at least 5", len(threads))
	}
	first := p.ask()

	// 50 full patch/unpatch cycles while 8 goroutines read the clock.
	steps := steppedOut.Load()
	start := time.Now()
	for i := 0; i < 50; i++ {
		if err := Skew(p.pid, delta, Options{}); err != nil {
			t.Fatalf("cycle %d: Skew: %v", i, err)
		}
		if i%10 == 0 {
			wantSkew(t, p.ask(), "wall", delta, 5*time.Millisecond)
		}
		if err := Reset(p.pid); err != nil {
			t.Fatalf("cycle %d: Reset: %v", i, err)
		}
	}
	cycles := time.Since(start)
	steps = steppedOut.Load() - steps
	wantSkew(t, p.ask(), "wall", 0, 5*time.Millisecond)
	wantOffset(t, p.pid, 0, false)

	// Strobe: 50 flips between +delta and 0, read all the while.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const period = 25 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- Strobe(ctx, p.pid, delta, period, 50*period, Options{}) }()
	seen := map[time.Duration]int{}
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Strobe: %v", err)
			}
			running = false
		case <-time.After(10 * time.Millisecond):
			r := p.ask()
			lo, hi := r.skew("wall")
			switch {
			case lo <= delta+5*time.Millisecond && delta <= hi+5*time.Millisecond:
				seen[delta]++
			case lo <= 5*time.Millisecond && -5*time.Millisecond <= hi:
				seen[0]++
			default:
				t.Errorf("during Strobe the probe read a skew in [%v, %v], neither 0 nor %v", lo, hi, delta)
			}
		}
	}
	if seen[0] == 0 || seen[delta] == 0 {
		t.Errorf("during Strobe the probe read 0 %d times and %v %d times; want both", seen[0], delta, seen[delta])
	}
	last := p.ask()
	wantSkew(t, last, "wall", 0, 5*time.Millisecond)
	wantOffset(t, p.pid, 0, false)
	if g := last.v["glitches"]; g != 0 {
		t.Errorf("the busy goroutines saw %d readings off by neither 0 nor %v (last: %v)", g, delta, time.Duration(last.v["worst"]))
	}
	if last.v["calls"] <= first.v["calls"] {
		t.Errorf("the busy goroutines made no progress (%d calls, then %d)", first.v["calls"], last.v["calls"])
	}
	threads, _ = listTasks(p.pid)
	stepNote := "(in the helper process)"
	if viaShell {
		stepNote = fmt.Sprintf("%d prologue instructions single-stepped", steps)
	}
	t.Logf("%d threads; 50 Skew/Reset cycles in %v (%v per call), %s; Strobe: read 0 %d times, +%v %d times; %d clock reads by the busy goroutines, %d glitches",
		len(threads), cycles.Round(time.Millisecond), (cycles / 100).Round(10*time.Microsecond), stepNote, seen[0], delta, seen[delta], last.v["calls"], last.v["glitches"])
	p.checkAlive()
}

func TestStrobeCancel(t *testing.T) {
	requirePtrace(t)
	p := startProbe(t, false, nil, probes.goBin)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := Strobe(ctx, p.pid, time.Minute, 10*time.Millisecond, time.Hour, Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Strobe = %v, want context.DeadlineExceeded", err)
	}
	wantOffset(t, p.pid, 0, false)
	wantSkew(t, p.ask(), "wall", 0, 5*time.Millisecond)
}

func TestErrors(t *testing.T) {
	requirePtrace(t)
	// A pid that cannot be in use: the kernel hands out pids below
	// pid_max. (One past the largest running pid is not safe: with
	// pid_max 32768, as on these machines, the tests running beside this
	// one wrap around and reuse it within seconds.)
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid_max %q: %v", b, err)
	}
	gone := pidMax + 1
	for _, m := range []mode{modeLocal, modeHelper} {
		tracerMode = m
		if err := Skew(gone, time.Second, Options{}); !errors.Is(err, ErrNoProcess) {
			t.Errorf("mode %d: Skew(no such pid) = %v, want ErrNoProcess", m, err)
		}
		if err := Reset(gone); !errors.Is(err, ErrNoProcess) {
			t.Errorf("mode %d: Reset(no such pid) = %v, want ErrNoProcess", m, err)
		}
	}
	tracerMode = modeAuto
	if _, _, err := Offset(gone); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Offset(no such pid) = %v, want ErrNoProcess", err)
	}
	if err := Skew(os.Getpid(), time.Second, Options{}); err == nil {
		t.Error("Skew of this process itself succeeded")
	}
	if err := Skew(1, MaxOffset+time.Second, Options{}); err == nil {
		t.Error("Skew beyond MaxOffset succeeded")
	}
	if err := Skew(0, time.Second, Options{}); err == nil {
		t.Error("Skew(pid 0) succeeded")
	}
}
