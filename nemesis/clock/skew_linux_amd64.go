package clock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Skew shifts the clocks of process pid by offset: from now on its
// clock_gettime for the clocks in opts.Clocks (default WallClocks), and its
// gettimeofday and time if CLOCK_REALTIME is among them, return the real time
// plus offset. On a process that is skewed already it only changes the offset
// and the clocks (the stub's data); Skew(pid, 0, opts) keeps the patch with no
// shift. With opts.Children, every descendant is skewed too.
//
// A stopped (SIGSTOP) process stays stopped; a running one runs on. It needs
// root (CAP_SYS_PTRACE). Every thread of the process is stopped for the few
// milliseconds the change takes.
func Skew(pid int, offset time.Duration, opts Options) error {
	var s session
	defer s.close()
	return skew(&s, pid, offset, opts)
}

func skew(s *session, pid int, offset time.Duration, opts Options) error {
	if err := checkArgs(pid, offset); err != nil {
		return err
	}
	targets := []int{pid}
	if opts.Children {
		kids, err := descendants(pid)
		if err != nil {
			return fmt.Errorf("clock: listing the descendants of pid %d: %w", pid, err)
		}
		targets = append(targets, kids...)
	}
	r := request{Op: opSkew, Offset: int64(offset), Mask: uint64(opts.clocks())}
	var errs []error
	for i, p := range targets {
		r.Pid = p
		if err := s.do(r); err != nil {
			if i > 0 && errors.Is(err, ErrNoProcess) {
				continue // a descendant exited meanwhile
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Reset undoes Skew on pid and on every descendant of pid that carries a
// faultline patch (children forked after Skew inherit it): it restores the
// original bytes of the vDSO entries (saved in the stub page, and equal to
// this process's own vDSO) and zeroes the stub's offset and clock set.
//
// The stub page itself stays mapped: a thread may be running in it, or be
// in the original vDSO function with a return address into it, and we cannot
// see all of those (a signal handler's interrupted context is on its stack),
// so unmapping it could crash the process. It is one page, inert once the
// entries are restored, and a later Skew reuses it. Reset of a process that is
// not skewed does nothing.
func Reset(pid int) error {
	var s session
	defer s.close()
	return reset(&s, pid)
}

func reset(s *session, pid int) error {
	if err := checkArgs(pid, 0); err != nil {
		return err
	}
	var errs []error
	if err := s.do(request{Op: opReset, Pid: pid}); err != nil {
		errs = append(errs, err)
	}
	kids, err := descendants(pid)
	if err != nil {
		errs = append(errs, fmt.Errorf("clock: listing the descendants of pid %d: %w", pid, err))
	}
	for _, k := range kids {
		st, err := Inspect(k)
		if err != nil || !st.Skewed {
			continue
		}
		if err := s.do(request{Op: opReset, Pid: k}); err != nil && !errors.Is(err, ErrNoProcess) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Offset reports the skew in effect in pid, read from the process itself, so
// that it survives a crash of the controller: skewed is false if the
// process's vDSO is pristine.
func Offset(pid int) (offset time.Duration, skewed bool, err error) {
	st, err := Inspect(pid)
	if err != nil {
		return 0, false, err
	}
	return st.Offset, st.Skewed, nil
}

// Inspect reads the skew state of pid without stopping it: it compares the
// process's vDSO entries with this process's own (pristine) vDSO, follows a
// patched entry to the stub page and reads the offset and clocks there.
func Inspect(pid int) (Status, error) {
	if pid <= 0 {
		return Status{}, fmt.Errorf("clock: pid %d: not a process id", pid)
	}
	v, err := readVDSO(pid)
	if err != nil {
		return Status{}, err
	}
	ps, err := inspect(pid, v)
	if err != nil {
		return Status{}, err
	}
	return ps.status(), nil
}

// FindSkewed lists the processes on this host whose vDSO carries a faultline
// patch, for `faultline heal` after a controller crash. Processes it cannot
// read (kernel threads, 32-bit processes, ones that exit meanwhile) are left
// out.
func FindSkewed() ([]int, error) {
	pids, err := allPids()
	if err != nil {
		return nil, fmt.Errorf("clock: listing processes: %w", err)
	}
	self := os.Getpid()
	var out []int
	for _, p := range pids {
		if p == self {
			continue
		}
		st, err := Inspect(p)
		if err == nil && st.Skewed {
			out = append(out, p)
		}
	}
	return out, nil
}

// patchState is what inspect finds in a process.
type patchState struct {
	page    uint64 // the stub page the entries jump to; 0: not patched
	patched [len(hooks)]bool
	data    *pageData
}

func (ps *patchState) status() Status {
	if ps.page == 0 {
		return Status{}
	}
	st := Status{
		Skewed: true,
		Offset: time.Duration(ps.data.skew),
		Clocks: ClockSet(ps.data.mask),
		Stub:   ps.page,
	}
	for i, h := range hooks {
		if ps.patched[i] {
			st.Hooks = append(st.Hooks, Hook{Symbol: h.name, Fast: ps.data.orig[i] == ps.page+offTramp+trampSize*uint64(i)})
		}
	}
	return st
}

// inspect classifies each hooked entry of v (pid's vDSO) as pristine (equal
// to our own vDSO's bytes), patched by us (a jump into a stub page with our
// magic) or foreign.
func inspect(pid int, v *vdsoImage) (*patchState, error) {
	ref, err := pristine()
	if err != nil {
		return nil, err
	}
	if len(ref.img) != len(v.img) {
		return nil, fmt.Errorf("clock: pid %d: its vDSO (%d bytes) is not the image of this process (%d bytes): %w", pid, len(v.img), len(ref.img), ErrUnsupported)
	}
	ps := &patchState{}
	for i, h := range hooks {
		if !v.fns[i].ok {
			continue
		}
		if !ref.fns[i].ok || ref.fns[i].off != v.fns[i].off {
			return nil, fmt.Errorf("clock: pid %d: its vDSO differs from this process's (%s): %w", pid, h.name, ErrUnsupported)
		}
		cur := v.entry(i)
		if bytes.Equal(cur, ref.entry(i)) {
			continue
		}
		target, ok := decodeEntryJump(cur)
		page := target - h.code
		if !ok || page%pageSize != 0 || (ps.page != 0 && page != ps.page) {
			return nil, fmt.Errorf("clock: pid %d: the entry of %s is % x: %w", pid, h.name, cur, ErrForeign)
		}
		ps.page = page
		ps.patched[i] = true
	}
	if ps.page == 0 {
		return ps, nil
	}
	b, err := readMem(pid, ps.page, offCode)
	if err != nil {
		return nil, err
	}
	if ps.data, err = decodePageData(b); err != nil {
		return nil, fmt.Errorf("clock: pid %d: %s jumps to %#x: %w (%w)", pid, hooks[0].name, ps.page, err, ErrForeign)
	}
	return ps, nil
}

// findStubPage looks for a stub page left mapped by an earlier Reset, to
// reuse it. The kernel may have merged it with an adjacent r-x anonymous
// mapping, so every page of such mappings (up to a size) is checked.
func findStubPage(pid int, vdsoBase uint64) (uint64, error) {
	maps, err := readMaps(pid)
	if err != nil {
		return 0, err
	}
	for _, m := range maps {
		if m.perms != "r-xp" || m.path != "" || m.end-m.start > 16<<20 {
			continue
		}
		b, err := readMem(pid, m.start, int(m.end-m.start))
		if err != nil {
			continue
		}
		for off := 0; off+offCode <= len(b); off += pageSize {
			if d, err := decodePageData(b[off : off+offCode]); err == nil && d.vdsoBase == vdsoBase {
				return m.start + uint64(off), nil
			}
		}
	}
	return 0, nil
}

// skewLocal applies a skew with this process as the tracer.
func skewLocal(pid int, offset int64, mask uint64) error {
	return traced(pid, func(t *tracee) error { return t.skew(offset, mask) })
}

// resetLocal undoes a skew with this process as the tracer.
func resetLocal(pid int) error {
	return traced(pid, func(t *tracee) error { return t.reset() })
}

// traced runs f with every thread of pid stopped, on the tracer thread.
func traced(pid int, f func(*tracee) error) error {
	return onTracerThread(func() (err error) {
		t, err := attach(pid)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, t.detach()) }()
		return f(t)
	})
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// skew installs the stub, or updates its data if it is installed.
func (t *tracee) skew(offset int64, mask uint64) error {
	v, err := readVDSO(t.pid)
	if err != nil {
		return err
	}
	ps, err := inspect(t.pid, v)
	if err != nil {
		return err
	}
	if ps.page != 0 {
		// Installed: the offset and the clock set are single 8-byte words,
		// and every thread is stopped, so no reader sees half of a change.
		if err := t.write(ps.page+offSkew, le64(uint64(offset))); err != nil {
			return err
		}
		return t.write(ps.page+offMask, le64(mask))
	}

	page, err := findStubPage(t.pid, v.base)
	if err != nil {
		return err
	}
	reuse := page != 0
	if !reuse {
		if page, err = t.mapPage(v); err != nil {
			return err
		}
	}
	img := buildPage(v, page, offset, mask)
	if reuse {
		// Threads may still run in the old page's code: never rewrite code.
		// The code and trampolines depend only on the vDSO and the page
		// address, so a reusable page already holds exactly img's code.
		old, err := readMem(t.pid, page, pageSize)
		if err != nil {
			return err
		}
		if !bytes.Equal(old[offCode:], img[offCode:]) {
			if page, err = t.mapPage(v); err != nil {
				return err
			}
			img = buildPage(v, page, offset, mask)
			reuse = false
		}
	}
	if reuse {
		err = t.write(page, img[:offCode])
	} else {
		err = t.write(page, img)
	}
	if err != nil {
		return err
	}

	// No thread may sit inside the bytes we overwrite (at the entry itself
	// is fine: it will run our jump). One that does is in the straight-line
	// prologue: step it past.
	for _, th := range t.threads {
		for i := range hooks {
			if v.fns[i].ok {
				if err := t.stepOut(th, v.addr(i), v.addr(i)+entryJumpLen); err != nil {
					return err
				}
			}
		}
	}
	for i, h := range hooks {
		if v.fns[i].ok {
			if err := t.write(v.addr(i), entryJump(page+h.code)); err != nil {
				return err
			}
		}
	}
	return nil
}

// mapPage maps a fresh stub page in the tracee: mmap(NULL, pageSize,
// PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0), run by one of its
// threads. Never writable by the tracee: we write it with PTRACE_POKEDATA.
func (t *tracee) mapPage(v *vdsoImage) (uint64, error) {
	insn, err := v.syscallInsn()
	if err != nil {
		return 0, fmt.Errorf("clock: pid %d: %w", t.pid, err)
	}
	ret, err := t.syscall(insn, unix.SYS_MMAP, 0, pageSize, unix.PROT_READ|unix.PROT_EXEC,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return 0, err
	}
	if err := sysErr(ret); err != nil {
		return 0, fmt.Errorf("clock: pid %d: mmap of the stub page in the process: %w", t.pid, err)
	}
	return ret, nil
}

// buildPage lays out a complete stub page for address page. A hook whose
// vDSO prologue cannot be relocated calls the real function by system call.
func buildPage(v *vdsoImage, page uint64, offset int64, mask uint64) []byte {
	img := make([]byte, pageSize)
	d := pageData{skew: offset, mask: mask, vdsoBase: v.base}
	copy(img[offCode:], stubCode)
	for i, h := range hooks {
		if !v.fns[i].ok {
			continue
		}
		at := page + offTramp + trampSize*uint64(i)
		if tr, err := trampoline(v.function(i), v.addr(i), at); err == nil {
			copy(img[at-page:], tr)
			d.orig[i] = at
		} else {
			d.orig[i] = page + h.sys
		}
		d.saved[i].addr = v.addr(i)
		copy(d.saved[i].bytes[:], v.img[v.fns[i].off:])
	}
	copy(img, d.encode())
	return img
}

// reset restores the vDSO entries and neutralises the stub's data.
func (t *tracee) reset() error {
	v, err := readVDSO(t.pid)
	if err != nil {
		return err
	}
	ps, err := inspect(t.pid, v)
	if err != nil || ps.page == 0 {
		return err
	}
	ref, err := pristine()
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if !ps.patched[i] {
			continue
		}
		orig := ps.data.saved[i].bytes[:entryJumpLen]
		if ps.data.saved[i].addr != v.addr(i) {
			// Not saved for this entry (cannot happen with pages we
			// built): the kernel's bytes are ours too.
			orig = ref.entry(i)
		}
		if err := t.write(v.addr(i), orig); err != nil {
			return fmt.Errorf("restoring %s: %w", h.name, err)
		}
	}
	if err := t.write(ps.page+offMask, le64(0)); err != nil {
		return err
	}
	return t.write(ps.page+offSkew, le64(0))
}

// pidLocks serialises operations on one pid within this process.
var pidLocks sync.Map // int -> *sync.Mutex

func lockPid(pid int) func() {
	m, _ := pidLocks.LoadOrStore(pid, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
