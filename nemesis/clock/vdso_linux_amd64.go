package clock

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// mapping is one line of /proc/PID/maps.
type mapping struct {
	start, end uint64
	perms      string
	path       string
}

func readMaps(pid int) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, procErr(pid, err)
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		// start-end perms offset dev inode [path]
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		m := mapping{start: start, end: end, perms: fields[1]}
		if len(fields) >= 6 {
			m.path = strings.Join(fields[5:], " ")
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, procErr(pid, err)
	}
	return out, nil
}

// readMem reads n bytes at addr of pid's memory. Reading needs no ptrace
// attachment, only the permission to attach (root).
func readMem(pid int, addr uint64, n int) ([]byte, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return nil, procErr(pid, err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(addr)); err != nil {
		return nil, fmt.Errorf("clock: pid %d: reading %d bytes at %#x: %w", pid, n, addr, err)
	}
	return b, nil
}

// vdsoImage is a process's vDSO: where it is mapped and its bytes.
type vdsoImage struct {
	base uint64
	img  []byte
	fns  [len(hooks)]vdsoFunc
}

// vdsoFunc locates one hooked function in a vDSO image.
type vdsoFunc struct {
	ok   bool
	off  uint64 // offset in the image
	size uint64
}

func (v *vdsoImage) addr(i int) uint64 { return v.base + v.fns[i].off }

func (v *vdsoImage) entry(i int) []byte {
	f := v.fns[i]
	return v.img[f.off : f.off+entryJumpLen]
}

func (v *vdsoImage) function(i int) []byte {
	f := v.fns[i]
	return v.img[f.off : f.off+f.size]
}

// findVDSO returns the [vdso] mapping of pid.
func findVDSO(pid int) (mapping, error) {
	maps, err := readMaps(pid)
	if err != nil {
		return mapping{}, err
	}
	for _, m := range maps {
		if m.path == "[vdso]" {
			return m, nil
		}
	}
	return mapping{}, fmt.Errorf("clock: pid %d has no [vdso] mapping (kernel thread, vdso=0, or it unmapped it): %w", pid, ErrUnsupported)
}

// readVDSO reads and parses the vDSO of pid.
func readVDSO(pid int) (*vdsoImage, error) {
	m, err := findVDSO(pid)
	if err != nil {
		return nil, err
	}
	img, err := readMem(pid, m.start, int(m.end-m.start))
	if err != nil {
		return nil, err
	}
	v, err := parseVDSO(m.start, img)
	if err != nil {
		return nil, fmt.Errorf("clock: pid %d: %w", pid, err)
	}
	return v, nil
}

// parseVDSO finds the hooked functions in the dynamic symbol table of a vDSO
// image (a complete little ELF shared object).
func parseVDSO(base uint64, img []byte) (*vdsoImage, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("parsing vDSO ELF image: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("vDSO is %v %v, not an x86-64 one (32-bit or x32 process): %w", f.Class, f.Machine, ErrUnsupported)
	}
	// Symbol values are virtual addresses; the mapping starts at the first
	// PT_LOAD segment's vaddr - offset.
	var bias uint64
	found := false
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			bias = p.Vaddr - p.Off
			found = true
			break
		}
	}
	if !found {
		return nil, errors.New("vDSO has no PT_LOAD segment")
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil, fmt.Errorf("reading vDSO dynamic symbols: %w", err)
	}
	byName := map[string]elf.Symbol{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			byName[s.Name] = s
		}
	}
	v := &vdsoImage{base: base, img: img}
	for i, h := range hooks {
		s, ok := byName[h.name]
		if !ok {
			s, ok = byName[h.alias]
		}
		if !ok {
			continue
		}
		off := s.Value - bias
		if s.Size < h.minSize || off+s.Size > uint64(len(img)) {
			continue
		}
		v.fns[i] = vdsoFunc{ok: true, off: off, size: s.Size}
	}
	if !v.fns[0].ok {
		return nil, fmt.Errorf("vDSO has no usable %s: %w", hooks[0].name, ErrUnsupported)
	}
	return v, nil
}

// syscallInsn finds a syscall instruction (0f 05) in the vDSO, outside the
// entries we patch: we run injected system calls by pointing a stopped
// thread's rip at it, so no code of the target needs to be changed for it.
func (v *vdsoImage) syscallInsn() (uint64, error) {
	for from := 0; ; {
		i := bytes.Index(v.img[from:], []byte{0x0f, 0x05})
		if i < 0 {
			return 0, errors.New("no syscall instruction in the vDSO")
		}
		off := uint64(from + i)
		inEntry := false
		for _, fn := range v.fns {
			if fn.ok && off+2 > fn.off && off < fn.off+entryJumpLen {
				inEntry = true
			}
		}
		if !inEntry {
			return v.base + off, nil
		}
		from += i + 1
	}
}

// pristine is our own process's vDSO. The kernel maps the same image into
// every 64-bit process, and nobody patches ours, so it is the reference that
// tells a patched entry from an original one.
var pristine = sync.OnceValues(func() (*vdsoImage, error) {
	v, err := readVDSO(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("reading this process's own vDSO as the reference: %w", err)
	}
	for i := range hooks {
		if v.fns[i].ok {
			if _, ok := decodeEntryJump(v.entry(i)); ok {
				return nil, fmt.Errorf("this process's own vDSO is patched (%s jumps elsewhere); it cannot serve as the reference", hooks[i].name)
			}
		}
	}
	return v, nil
})
