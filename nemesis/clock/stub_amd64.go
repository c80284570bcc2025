package clock

import (
	"encoding/binary"
	"fmt"
)

// The stub page: one page mapped PROT_READ|PROT_EXEC into the target by an
// mmap executed in the target. It holds the skew (data, read by the hooks with
// one 8-byte load each, so a reader never sees half an update), the hooks that
// the vDSO entries jump to, and per hook a trampoline that runs the original
// vDSO function. The tracee never writes to it; we write it with
// PTRACE_POKEDATA while every thread of the target is stopped.
//
//	0x000  magic      "FLTCLK\x00\x01" (the last byte is the layout version)
//	0x008  skew       int64, nanoseconds added to shifted clocks
//	0x010  mask       uint64, bit i set: clock id i is shifted (bit 0, CLOCK_REALTIME,
//	                  also governs gettimeofday and time)
//	0x018  orig_cgt   uint64, address of the real clock_gettime (trampoline or syscall)
//	0x020  orig_gtod  uint64, the same for gettimeofday
//	0x028  orig_time  uint64, the same for time
//	0x030  vdso_base  uint64, start of the [vdso] mapping the page was built for
//	0x040  saved[3]   32 bytes each: entry address uint64 (0: not patched),
//	                  the entry's original 16 bytes, 8 reserved
//	0x100  code       the hooks and the syscall fallbacks (stubCode)
//	0x200  trampolines, 64 bytes each, one per hook
const (
	pageSize = 0x1000

	offMagic    = 0x000
	offSkew     = 0x008
	offMask     = 0x010
	offOrig     = 0x018 // + 8*hook
	offVDSOBase = 0x030
	offSaved    = 0x040 // + 32*hook
	savedSize   = 32
	offCode     = 0x100
	offTramp    = 0x200 // + 64*hook
	trampSize   = 64

	// Offsets of the code labels from the start of the page.
	codeCGT     = 0x100 // clock_gettime hook
	codeGTOD    = 0x143 // gettimeofday hook
	codeTime    = 0x194 // time hook
	codeSysCGT  = 0x1e1 // clock_gettime by syscall
	codeSysGTOD = 0x1e9 // gettimeofday by syscall
	codeSysTime = 0x1f1 // time by syscall
)

// stubMagic starts every stub page; its last byte is the layout version. A
// page with another version is never reused or trusted.
var stubMagic = [8]byte{'F', 'L', 'T', 'C', 'L', 'K', 0, 1}

// stubCode is placed at offCode. It is hand-assembled; the comments give
// each instruction in Intel syntax (destination first) at its page offset,
// and name the data field a [rip+X] operand reaches. Check it with
//
//	objdump -D -b binary -m i386:x86-64 -M intel --start-address=0x100 page.bin
//
// or run TestStubDisassembly, which decodes it and compares with this listing.
//
// Calling convention: the System V ABI that the vDSO itself follows (glibc and
// the Go runtime both call the vDSO that way): arguments in rdi, rsi; rax,
// rcx, rdx, rsi, rdi, r8-r11 may be clobbered; the stack is 16-byte aligned
// before a call. The hooks use at most 40 bytes of the caller's stack.
var stubCode = []byte{
	// ---- clock_gettime(clockid_t edi, struct timespec *rsi) ----
	0x83, 0xff, 0x3f, // 100: cmp  edi, 63            ; ids >63 and negative ids (CPU clocks) are never shifted
	0x77, 0x38, // 103: ja   13d (cgt_pass)
	0x89, 0xf9, // 105: mov  ecx, edi
	0x48, 0x8b, 0x05, 0x02, 0xff, 0xff, 0xff, // 107: mov  rax, [rip-0xfe]   ; [0x010] mask
	0x48, 0x0f, 0xa3, 0xc8, // 10e: bt   rax, rcx
	0x73, 0x29, // 112: jae  13d (cgt_pass)    ; not shifted: go straight to the real one
	0x56,                               // 114: push rsi                ; keep ts; also aligns the stack for the call
	0xff, 0x15, 0xfd, 0xfe, 0xff, 0xff, // 115: call [rip-0x103]       ; [0x018] orig_cgt
	0x5e,       // 11b: pop  rsi
	0x85, 0xc0, // 11c: test eax, eax
	0x75, 0x1c, // 11e: jne  13c (cgt_ret)     ; an error (-errno) is returned untouched
	0x48, 0x8b, 0x06, // 120: mov  rax, [rsi]         ; tv_sec
	0x48, 0x69, 0xc0, 0x00, 0xca, 0x9a, 0x3b, // 123: imul rax, rax, 1000000000
	0x48, 0x03, 0x46, 0x08, // 12a: add  rax, [rsi+8]       ; + tv_nsec = ns since the epoch
	0xe8, 0x91, 0x00, 0x00, 0x00, // 12e: call 1c4 (shift)        ; rax = sec, rdx = nsec, skewed
	0x48, 0x89, 0x06, // 133: mov  [rsi], rax
	0x48, 0x89, 0x56, 0x08, // 136: mov  [rsi+8], rdx
	0x31, 0xc0, // 13a: xor  eax, eax
	0xc3,                               // 13c: ret                     ; cgt_ret
	0xff, 0x25, 0xd5, 0xfe, 0xff, 0xff, // 13d: jmp  [rip-0x12b]       ; cgt_pass: tail call [0x018] orig_cgt

	// ---- gettimeofday(struct timeval *rdi, struct timezone *rsi) ----
	0xf6, 0x05, 0xc6, 0xfe, 0xff, 0xff, 0x01, // 143: test byte [rip-0x13a], 1 ; [0x010] mask bit 0: CLOCK_REALTIME
	0x74, 0x42, // 14a: je   18e (gtod_pass)
	0x57,                               // 14c: push rdi                ; keep tv; aligns the stack
	0xff, 0x15, 0xcd, 0xfe, 0xff, 0xff, // 14d: call [rip-0x133]       ; [0x020] orig_gtod
	0x5f,       // 153: pop  rdi
	0x85, 0xc0, // 154: test eax, eax
	0x75, 0x35, // 156: jne  18d (gtod_ret)
	0x48, 0x85, 0xff, // 158: test rdi, rdi           ; tv may be NULL (tz only)
	0x74, 0x30, // 15b: je   18d (gtod_ret)
	0x48, 0x8b, 0x07, // 15d: mov  rax, [rdi]         ; tv_sec
	0x48, 0x69, 0xc0, 0x40, 0x42, 0x0f, 0x00, // 160: imul rax, rax, 1000000
	0x48, 0x03, 0x47, 0x08, // 167: add  rax, [rdi+8]       ; + tv_usec
	0x48, 0x69, 0xc0, 0xe8, 0x03, 0x00, 0x00, // 16b: imul rax, rax, 1000     ; ns since the epoch
	0xe8, 0x4d, 0x00, 0x00, 0x00, // 172: call 1c4 (shift)
	0x48, 0x89, 0x07, // 177: mov  [rdi], rax
	0x48, 0x89, 0xd0, // 17a: mov  rax, rdx
	0x31, 0xd2, // 17d: xor  edx, edx
	0xb9, 0xe8, 0x03, 0x00, 0x00, // 17f: mov  ecx, 1000
	0x48, 0xf7, 0xf1, // 184: div  rcx                ; ns -> us
	0x48, 0x89, 0x47, 0x08, // 187: mov  [rdi+8], rax
	0x31, 0xc0, // 18b: xor  eax, eax
	0xc3,                               // 18d: ret                     ; gtod_ret
	0xff, 0x25, 0x8c, 0xfe, 0xff, 0xff, // 18e: jmp  [rip-0x174]       ; gtod_pass: tail call [0x020] orig_gtod

	// ---- time(time_t *rdi) ----
	0xf6, 0x05, 0x75, 0xfe, 0xff, 0xff, 0x01, // 194: test byte [rip-0x18b], 1 ; [0x010] mask bit 0
	0x74, 0x21, // 19b: je   1be (time_pass)
	0x57,                   // 19d: push rdi
	0x48, 0x83, 0xec, 0x10, // 19e: sub  rsp, 16            ; a struct timespec; stack stays aligned
	0x48, 0x89, 0xe6, // 1a2: mov  rsi, rsp
	0x31, 0xff, // 1a5: xor  edi, edi           ; CLOCK_REALTIME
	0xe8, 0x54, 0xff, 0xff, 0xff, // 1a7: call 100 (the clock_gettime hook)
	0x48, 0x8b, 0x04, 0x24, // 1ac: mov  rax, [rsp]         ; tv_sec
	0x48, 0x83, 0xc4, 0x10, // 1b0: add  rsp, 16
	0x5f,             // 1b4: pop  rdi
	0x48, 0x85, 0xff, // 1b5: test rdi, rdi
	0x74, 0x03, // 1b8: je   1bd (time_ret)
	0x48, 0x89, 0x07, // 1ba: mov  [rdi], rax
	0xc3,                               // 1bd: ret                     ; time_ret
	0xff, 0x25, 0x64, 0xfe, 0xff, 0xff, // 1be: jmp  [rip-0x19c]       ; time_pass: tail call [0x028] orig_time

	// ---- shift: rax = ns since the epoch -> rax = sec, rdx = nsec in [0, 1e9), plus skew; clobbers rcx ----
	0x48, 0x03, 0x05, 0x3d, 0xfe, 0xff, 0xff, // 1c4: add  rax, [rip-0x1c3]   ; [0x008] skew
	0x48, 0x99, // 1cb: cqo
	0xb9, 0x00, 0xca, 0x9a, 0x3b, // 1cd: mov  ecx, 1000000000
	0x48, 0xf7, 0xf9, // 1d2: idiv rcx                ; truncates toward zero
	0x48, 0x85, 0xd2, // 1d5: test rdx, rdx
	0x79, 0x06, // 1d8: jns  1e0
	0x48, 0xff, 0xc8, // 1da: dec  rax                ; floor for times before 1970
	0x48, 0x01, 0xca, // 1dd: add  rdx, rcx
	0xc3, // 1e0: ret

	// ---- the real functions by system call, used when a vDSO prologue cannot be relocated ----
	0xb8, 0xe4, 0x00, 0x00, 0x00, // 1e1: mov  eax, 228 (SYS_clock_gettime)
	0x0f, 0x05, // 1e6: syscall
	0xc3,                         // 1e8: ret
	0xb8, 0x60, 0x00, 0x00, 0x00, // 1e9: mov  eax, 96 (SYS_gettimeofday)
	0x0f, 0x05, // 1ee: syscall
	0xc3,                         // 1f0: ret
	0xb8, 0xc9, 0x00, 0x00, 0x00, // 1f1: mov  eax, 201 (SYS_time)
	0x0f, 0x05, // 1f6: syscall
	0xc3, // 1f8: ret
}

// entryJump is what a patched vDSO entry holds: jmp [rip+0] followed by the
// absolute address of the hook. It clobbers no register, unlike
// mov rax, imm64; jmp rax.
//
//	ff 25 00 00 00 00   jmp [rip+0]
//	<8 bytes>           the hook's address
const entryJumpLen = 14

func entryJump(target uint64) []byte {
	b := make([]byte, entryJumpLen)
	b[0], b[1] = 0xff, 0x25
	binary.LittleEndian.PutUint64(b[6:], target)
	return b
}

// decodeEntryJump reports the target of an entry patched by entryJump.
func decodeEntryJump(b []byte) (uint64, bool) {
	if len(b) < entryJumpLen || b[0] != 0xff || b[1] != 0x25 || b[2] != 0 || b[3] != 0 || b[4] != 0 || b[5] != 0 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[6:]), true
}

// hookDef describes one vDSO function we hook.
type hookDef struct {
	name    string // its symbol in the vDSO
	alias   string // the unprefixed alias, used if name is missing
	code    uint64 // page offset of the hook
	sys     uint64 // page offset of its syscall fallback
	minSize uint64 // the function must be at least this long to hold the jump
}

var hooks = [...]hookDef{
	{name: "__vdso_clock_gettime", alias: "clock_gettime", code: codeCGT, sys: codeSysCGT, minSize: entryJumpLen},
	{name: "__vdso_gettimeofday", alias: "gettimeofday", code: codeGTOD, sys: codeSysGTOD, minSize: entryJumpLen},
	{name: "__vdso_time", alias: "time", code: codeTime, sys: codeSysTime, minSize: entryJumpLen},
}

// pageData is the data part of a stub page.
type pageData struct {
	skew     int64
	mask     uint64
	orig     [len(hooks)]uint64
	vdsoBase uint64
	saved    [len(hooks)]savedEntry
}

type savedEntry struct {
	addr  uint64 // 0: this hook is not installed
	bytes [16]byte
}

// encodeData lays out the data part (the first offCode bytes) of a page.
func (d *pageData) encode() []byte {
	b := make([]byte, offCode)
	copy(b[offMagic:], stubMagic[:])
	binary.LittleEndian.PutUint64(b[offSkew:], uint64(d.skew))
	binary.LittleEndian.PutUint64(b[offMask:], d.mask)
	for i, o := range d.orig {
		binary.LittleEndian.PutUint64(b[offOrig+8*i:], o)
	}
	binary.LittleEndian.PutUint64(b[offVDSOBase:], d.vdsoBase)
	for i, s := range d.saved {
		at := offSaved + savedSize*i
		binary.LittleEndian.PutUint64(b[at:], s.addr)
		copy(b[at+8:at+24], s.bytes[:])
	}
	return b
}

// decodePageData parses the data part of a page read from a target.
func decodePageData(b []byte) (*pageData, error) {
	if len(b) < offCode {
		return nil, fmt.Errorf("stub page: short read (%d bytes)", len(b))
	}
	if [8]byte(b[offMagic:offMagic+8]) != stubMagic {
		return nil, fmt.Errorf("stub page: bad magic %q (not a faultline clock stub, or another layout version)", b[offMagic:offMagic+8])
	}
	d := &pageData{
		skew:     int64(binary.LittleEndian.Uint64(b[offSkew:])),
		mask:     binary.LittleEndian.Uint64(b[offMask:]),
		vdsoBase: binary.LittleEndian.Uint64(b[offVDSOBase:]),
	}
	for i := range d.orig {
		d.orig[i] = binary.LittleEndian.Uint64(b[offOrig+8*i:])
	}
	for i := range d.saved {
		at := offSaved + savedSize*i
		d.saved[i].addr = binary.LittleEndian.Uint64(b[at:])
		copy(d.saved[i].bytes[:], b[at+8:at+24])
	}
	return d, nil
}
