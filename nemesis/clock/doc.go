// Package clock skews the clocks of single processes, Go programs such as
// etcd included, without touching the host's clock: the clock nemesis.
//
// Skew(pid, offset, opts) makes clock_gettime (for the chosen clock ids),
// gettimeofday and time in process pid return the real time plus offset;
// Reset(pid) undoes it; Offset and Inspect read the skew in effect back from
// the process itself, and FindSkewed lists every skewed process on the host,
// so that `faultline heal` can undo skews left by a controller that crashed;
// Strobe flips a skew on and off.
//
// # Why this way
//
// LD_PRELOAD fakes (libfaketime) do not reach Go binaries, which read the
// clock through the vDSO themselves, and time namespaces do not shift
// CLOCK_REALTIME. What every dynamically or statically linked x86-64 program
// has in common is the vDSO: the kernel's little shared object, mapped into
// every process, whose clock_gettime, gettimeofday and time libc and the Go
// runtime call instead of making system calls. This package patches those
// functions in the target's copy of the vDSO, as Chaos Mesh's TimeChaos does
// (we read how it works; the code and the machine code here are our own).
//
// # How
//
//  1. Stop the target: PTRACE_SEIZE and PTRACE_INTERRUPT every thread in
//     /proc/PID/task, again until no new thread appears. All ptrace requests
//     come from one OS thread (runtime.LockOSThread), which the kernel
//     requires.
//  2. Read the target's vDSO ([vdso] in /proc/PID/maps, bytes from
//     /proc/PID/mem) and find __vdso_clock_gettime, __vdso_gettimeofday and
//     __vdso_time in its dynamic symbol table (debug/elf).
//  3. Map one page, PROT_READ|PROT_EXEC, in the target: point a stopped
//     thread's rip at a syscall instruction inside the vDSO, load mmap's
//     arguments into its registers, single-step it, restore its registers.
//  4. Write the stub page with PTRACE_POKEDATA: the offset and the set of
//     shifted clocks (one 8-byte word each), a hook per function (hand
//     assembled, see stub_amd64.go), and per function a trampoline: the
//     function's first instructions, relocated (x86asm decodes them), then a
//     jump back into the function. An unshifted call (CLOCK_MONOTONIC, which
//     Go's timers and etcd's raft use) tail-calls the trampoline and runs the
//     original vDSO code at full speed; a shifted one calls it and adds the
//     offset. Where a prologue cannot be relocated safely the hook makes the
//     real system call instead: correct, slower.
//  5. Overwrite each function's first 14 bytes with jmp [rip+0] and the
//     hook's address. A thread stopped inside those 14 bytes is single-stepped
//     past them first. The original bytes are saved in the stub page.
//  6. Detach every thread: a running process runs on, a process that was
//     stopped (SIGSTOP) stays stopped, and signals that arrived while we held
//     it are delivered.
//
// Changing the offset of a skewed process rewrites the offset word only.
// Reset restores the saved entry bytes and zeroes the offset and clock set;
// it leaves the page mapped (one page, inert, reused by the next Skew),
// because a thread may be inside it or inside the original function with a
// return address into it, which cannot all be seen from outside (a signal
// handler's interrupted context is on its stack), so unmapping could crash
// the process.
//
// Offset and Inspect need no ptrace: they compare the target's vDSO entries
// with this process's own (the kernel maps the same image into every 64-bit
// process, and ours is never patched), follow a patched entry's jump to the
// stub page, check its magic and read the offset there.
//
// When the target is a child of this process (as with control/local), the
// ptrace work runs in a helper process, this executable re-executed with
// FAULTLINE_CLOCK_TRACER=1 (handled by this package's init): the kernel
// reports a tracee's ptrace stops to every thread of the tracer's process, so
// a goroutine waiting for that child (os/exec's Wait) would otherwise collect
// them and return as if the child had stopped, and the controller would take
// the node for dead. Other targets are traced from this process.
//
// # Limits
//
//   - Linux on x86-64 only, and only 64-bit targets (not 32-bit or x32
//     processes, whose vDSO differs). Other platforms get ErrUnsupported.
//   - Needs root (CAP_SYS_PTRACE) on the host that runs the target, in its pid
//     namespace; a target traced already (gdb, strace) cannot be skewed.
//   - Only reads of the clock through the vDSO are shifted. A program that
//     makes raw clock_gettime system calls (or Go's syscall package) sees the
//     real time; so do the legacy vsyscall page (fixed address, used only by
//     very old static binaries) and everything the kernel times itself: file
//     timestamps, timerfd and clock_nanosleep deadlines on CLOCK_REALTIME (a
//     program that sleeps until a skewed absolute time sleeps for the offset
//     too), SO_TIMESTAMP. Go's timers and time.Since use CLOCK_MONOTONIC and
//     are untouched unless it is among opts.Clocks.
//   - time() is served as clock_gettime(CLOCK_REALTIME)'s seconds, not the
//     coarse clock the kernel's time() reads; the two differ by under a tick.
//   - Children forked after Skew inherit the patch; a program that execs gets
//     a fresh vDSO and the real time. opts.Children skews the descendants that
//     exist at the time of Skew; Reset resets every patched descendant.
//   - Every thread is stopped for the change, typically 1-20 ms on a busy
//     process (more with a helper, which is a process start).
//   - A thread interrupted by a signal inside the first 14 bytes of a vDSO
//     function and still in its handler when we patch would resume inside our
//     jump; we cannot see its saved context. The window is a few instructions
//     wide and needs a signal to land exactly there.
//   - Skewed processes run our machine code. The tests prove it against real
//     Go and C programs on this kernel (see clock_linux_amd64_test.go).
//
// golang.org/x/arch/x86/x86asm decodes the vDSO prologues for relocation: an
// x86 instruction-length decoder that also reports pc-relative fields is not
// something to hand-write.
package clock
