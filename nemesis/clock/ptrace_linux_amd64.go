package clock

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errThreadGone: a thread exited while we worked on it.
var errThreadGone = errors.New("thread exited")

const (
	// stopTimeout bounds the wait for one thread to stop (a thread in
	// uninterruptible sleep, e.g. an fsync, stops when it returns).
	stopTimeout = 10 * time.Second
	// stolenAfter: a thread in tracing stop ('t') whose stop we have not been
	// able to collect for this long was collected by another thread of this
	// process (see wait).
	stolenAfter = 20 * time.Millisecond
)

// onTracerThread runs f on a fresh goroutine locked to its OS thread: the
// kernel accepts ptrace requests for a tracee only from the thread that
// attached it. The goroutine never unlocks, so the thread exits with it, and
// if f leaves a tracee attached (a bug, a panic) the kernel detaches it when
// the thread exits: stopped processes stay stopped, running ones run on.
func onTracerThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("clock: panic on the tracer thread: %v", r)
			}
		}()
		errc <- f()
	}()
	return <-errc
}

type stopKind int

const (
	running    stopKind = iota
	eventStop           // PTRACE_EVENT_STOP: our interrupt, or a group-stop (SIGSTOP)
	signalStop          // signal-delivery-stop: a signal is about to be delivered
)

type thread struct {
	tid  int
	kind stopKind
	// sig is, in a signal-delivery-stop, the signal being delivered; detach
	// passes it on, so attaching does not swallow it.
	sig int
	// resend are signals we swallowed by running the thread on; they are
	// sent to it again after detaching.
	resend []unix.Signal
}

// tracee is a process with all its threads seized and stopped.
type tracee struct {
	pid     int
	threads map[int]*thread
}

func ptrace(req, tid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// attach seizes (PTRACE_SEIZE, which unlike PTRACE_ATTACH sends no SIGSTOP)
// and interrupts every thread of pid, again and again until no new thread
// appears: a thread that still runs may create one. It must run on the
// tracer thread.
func attach(pid int) (_ *tracee, err error) {
	t := &tracee{pid: pid, threads: map[int]*thread{}}
	defer func() {
		if err != nil {
			_ = t.detach()
		}
	}()
	for round := 0; ; round++ {
		if round > 1000 {
			return nil, fmt.Errorf("clock: pid %d: threads keep appearing; cannot stop them all", pid)
		}
		tids, err := listTasks(pid)
		if err != nil {
			return nil, err
		}
		var fresh []*thread
		for _, tid := range tids {
			if _, ok := t.threads[tid]; ok {
				continue
			}
			if err := ptrace(unix.PTRACE_SEIZE, tid, 0, 0); err != nil {
				if errors.Is(err, unix.ESRCH) && tid != pid {
					continue // exited meanwhile
				}
				return nil, attachErr(pid, tid, err)
			}
			th := &thread{tid: tid}
			t.threads[tid] = th
			if err := ptrace(unix.PTRACE_INTERRUPT, tid, 0, 0); err != nil && !errors.Is(err, unix.ESRCH) {
				return nil, fmt.Errorf("clock: pid %d: PTRACE_INTERRUPT thread %d: %w", pid, tid, err)
			}
			fresh = append(fresh, th)
		}
		if len(fresh) == 0 {
			break
		}
		for _, th := range fresh {
			if err := t.wait(th); err != nil {
				if errors.Is(err, errThreadGone) && th.tid != pid {
					delete(t.threads, th.tid)
					continue
				}
				return nil, err
			}
		}
	}
	if _, ok := t.threads[pid]; !ok {
		return nil, fmt.Errorf("clock: pid %d: %w", pid, ErrNoProcess)
	}
	return t, nil
}

func attachErr(pid, tid int, err error) error {
	switch {
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("clock: pid %d: %w", pid, ErrNoProcess)
	case errors.Is(err, unix.EPERM):
		if st, serr := threadStat(pid, tid); serr != nil || st.State == 'Z' || st.State == 'X' {
			return fmt.Errorf("clock: pid %d: thread %d has exited: %w", pid, tid, ErrNoProcess)
		}
		return fmt.Errorf("clock: pid %d: PTRACE_SEIZE thread %d: %w (%w: run as root or with CAP_SYS_PTRACE; the process must not be traced already, e.g. by gdb or strace)", pid, tid, err, ErrPermission)
	}
	return fmt.Errorf("clock: pid %d: PTRACE_SEIZE thread %d: %w", pid, tid, err)
}

// siginfo is the part of siginfo_t that waitid fills for SIGCHLD.
type siginfo struct {
	Signo  int32
	Errno  int32
	Code   int32
	_      int32
	Pid    int32
	UID    uint32
	Status int32
	_      [100]byte
}

const (
	cldTrapped      = 4 // CLD_TRAPPED
	ptraceEventStop = unix.PTRACE_EVENT_STOP
)

// wait waits for th to stop and records how it stopped.
//
// It polls waitid(WSTOPPED|WNOHANG) instead of blocking: the kernel reports a
// tracee's stops to every thread of the tracer's process, so another goroutine
// of this process that waits for the target (os/exec's Wait, when the target
// is our child) can collect a stop before we do. A blocking wait would then
// hang. A thread that sits in tracing stop while no report comes is taken as
// stopped (by an interrupt: we cannot know which signal, if any, the lost
// report carried). Skew avoids that case by tracing its own children from a
// helper process (see helper_linux_amd64.go); this is the safety net.
func (t *tracee) wait(th *thread) error {
	deadline := time.Now().Add(stopTimeout)
	pause := 20 * time.Microsecond
	var tracedSince time.Time
	for {
		var info siginfo
		_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_PID, uintptr(th.tid), uintptr(unsafe.Pointer(&info)),
			unix.WSTOPPED|unix.WNOHANG|unix.WALL, 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.ECHILD:
			return fmt.Errorf("clock: pid %d thread %d: %w", t.pid, th.tid, errThreadGone)
		default:
			return fmt.Errorf("clock: pid %d: waitid thread %d: %w", t.pid, th.tid, e)
		}
		if info.Pid == int32(th.tid) && info.Code == cldTrapped {
			sig, event := int(info.Status&0xff), int(info.Status>>8)
			if event == 0 {
				th.kind, th.sig = signalStop, sig
			} else {
				th.kind, th.sig = eventStop, 0 // ptraceEventStop; we set no options, so no other events
			}
			return nil
		}
		st, err := threadStat(t.pid, th.tid)
		if err != nil || st.State == 'Z' || st.State == 'X' {
			return fmt.Errorf("clock: pid %d thread %d: %w", t.pid, th.tid, errThreadGone)
		}
		now := time.Now()
		if st.State == 't' {
			if tracedSince.IsZero() {
				tracedSince = now
			} else if now.Sub(tracedSince) > stolenAfter {
				th.kind, th.sig = eventStop, 0
				return nil
			}
		} else {
			tracedSince = time.Time{}
		}
		if now.After(deadline) {
			return fmt.Errorf("clock: pid %d: thread %d did not stop within %v (state %c)", t.pid, th.tid, stopTimeout, st.State)
		}
		time.Sleep(pause)
		if pause < time.Millisecond {
			pause *= 2
		}
	}
}

// detach lets every thread go. A thread in a signal-delivery-stop gets its
// signal; signals we swallowed are sent again. A process that was stopped
// (SIGSTOP) when we came stays stopped: the kernel puts a detached thread
// back into the group-stop that is in effect.
func (t *tracee) detach() error {
	var errs []error
	for _, th := range t.threads {
		sig := 0
		if th.kind == signalStop {
			sig = th.sig
		}
		if err := ptrace(unix.PTRACE_DETACH, th.tid, 0, uintptr(sig)); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("clock: pid %d: PTRACE_DETACH thread %d: %w", t.pid, th.tid, err))
		}
	}
	for _, th := range t.threads {
		for _, s := range th.resend {
			if err := unix.Tgkill(t.pid, th.tid, s); errors.Is(err, unix.ESRCH) {
				_ = unix.Kill(t.pid, s)
			}
		}
	}
	t.threads = nil
	return errors.Join(errs...)
}

// some returns a stopped thread, the main one if it is there.
func (t *tracee) some() *thread {
	if th, ok := t.threads[t.pid]; ok {
		return th
	}
	for _, th := range t.threads {
		return th
	}
	return nil
}

// write writes b at addr in the tracee with PTRACE_POKEDATA, which (unlike
// process_vm_writev) also writes read-only mappings such as the vDSO: the
// kernel gives the process a private copy of the page, as for a debugger's
// breakpoint.
func (t *tracee) write(addr uint64, b []byte) error {
	th := t.some()
	if th == nil {
		return fmt.Errorf("clock: pid %d: no stopped thread", t.pid)
	}
	if _, err := unix.PtracePokeData(th.tid, uintptr(addr), b); err != nil {
		return fmt.Errorf("clock: pid %d: writing %d bytes at %#x: %w", t.pid, len(b), addr, err)
	}
	return nil
}

// syscall runs system call nr with args in the tracee: it points a stopped
// thread's rip at a syscall instruction (insn, in the vDSO), single-steps it
// and restores its registers. orig_rax = -1 keeps the kernel from treating
// the thread as one returning from an interrupted system call (which it
// would restart); restoring the registers afterwards restores that, so an
// interrupted futex or read of the thread is restarted as usual.
func (t *tracee) syscall(insn uint64, nr uint64, args ...uint64) (uint64, error) {
	if len(args) > 6 {
		return 0, errors.New("clock: too many system call arguments")
	}
	var th *thread
	for _, c := range t.threads { // prefer a thread with no signal pending
		if c.kind == eventStop && (th == nil || c.tid == t.pid) {
			th = c
		}
	}
	if th == nil {
		th = t.some()
	}
	if th == nil {
		return 0, fmt.Errorf("clock: pid %d: no stopped thread", t.pid)
	}
	var saved unix.PtraceRegs
	if err := unix.PtraceGetRegs(th.tid, &saved); err != nil {
		return 0, fmt.Errorf("clock: pid %d: PTRACE_GETREGS thread %d: %w", t.pid, th.tid, err)
	}
	regs := saved
	regs.Rip, regs.Rax, regs.Orig_rax = insn, nr, ^uint64(0)
	for i, p := range []*uint64{&regs.Rdi, &regs.Rsi, &regs.Rdx, &regs.R10, &regs.R8, &regs.R9} {
		if i < len(args) {
			*p = args[i]
		}
	}
	if err := unix.PtraceSetRegs(th.tid, &regs); err != nil {
		return 0, fmt.Errorf("clock: pid %d: PTRACE_SETREGS thread %d: %w", t.pid, th.tid, err)
	}
	ret, err := t.runSyscall(th, insn)
	if rerr := unix.PtraceSetRegs(th.tid, &saved); rerr != nil && err == nil {
		err = fmt.Errorf("clock: pid %d: restoring the registers of thread %d: %w", t.pid, th.tid, rerr)
	}
	return ret, err
}

// runSyscall single-steps th, whose rip is at the syscall instruction insn,
// until the instruction has run, and returns rax.
func (t *tracee) runSyscall(th *thread, insn uint64) (uint64, error) {
	for i := 0; i < 64; i++ {
		regs, err := t.stepOnce(th)
		if err != nil {
			return 0, err
		}
		switch regs.Rip {
		case insn + 2:
			return regs.Rax, nil
		case insn:
			// Stopped before running it (a pending interrupt or signal).
		default:
			return 0, fmt.Errorf("clock: pid %d thread %d: injected system call ended at %#x, not %#x", t.pid, th.tid, regs.Rip, insn+2)
		}
	}
	return 0, fmt.Errorf("clock: pid %d thread %d: the injected system call did not run", t.pid, th.tid)
}

// stepOut single-steps th until its rip is outside (lo, hi): a thread caught
// in the middle of the instructions that our jump is about to overwrite runs
// on past them (straight-line prologue code, a few instructions).
func (t *tracee) stepOut(th *thread, lo, hi uint64) error {
	for i := 0; i < 64; i++ {
		var regs unix.PtraceRegs
		if err := unix.PtraceGetRegs(th.tid, &regs); err != nil {
			return fmt.Errorf("clock: pid %d: PTRACE_GETREGS thread %d: %w", t.pid, th.tid, err)
		}
		if regs.Rip <= lo || regs.Rip >= hi {
			return nil
		}
		steppedOut.Add(1)
		if _, err := t.stepOnce(th); err != nil {
			return err
		}
	}
	return fmt.Errorf("clock: pid %d thread %d: still inside %#x..%#x after 64 steps", t.pid, th.tid, lo, hi)
}

// steppedOut counts the instructions stepOut ran, for the tests.
var steppedOut atomic.Int64

// stepOnce lets th run one instruction (PTRACE_SINGLESTEP) and returns its
// registers once it stops again. A signal that was about to be delivered when
// it stopped, or that stops it on the way, is not delivered now but sent
// again after detach; the SIGTRAP of the step itself is dropped.
func (t *tracee) stepOnce(th *thread) (unix.PtraceRegs, error) {
	var regs unix.PtraceRegs
	if th.kind == signalStop && th.sig != 0 {
		th.resend = append(th.resend, unix.Signal(th.sig))
	}
	th.sig = 0
	if err := ptrace(unix.PTRACE_SINGLESTEP, th.tid, 0, 0); err != nil {
		return regs, fmt.Errorf("clock: pid %d: PTRACE_SINGLESTEP thread %d: %w", t.pid, th.tid, err)
	}
	if err := t.wait(th); err != nil {
		return regs, err
	}
	if th.kind == signalStop {
		if th.sig != int(unix.SIGTRAP) {
			th.resend = append(th.resend, unix.Signal(th.sig))
		}
		th.sig = 0
	}
	if err := unix.PtraceGetRegs(th.tid, &regs); err != nil {
		return regs, fmt.Errorf("clock: pid %d: PTRACE_GETREGS thread %d: %w", t.pid, th.tid, err)
	}
	return regs, nil
}

// sysErr turns a raw system call return value into an error.
func sysErr(ret uint64) error {
	if r := int64(ret); r < 0 && r > -4096 {
		return unix.Errno(-r)
	}
	return nil
}
