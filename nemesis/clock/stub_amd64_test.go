package clock

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// stubListing is stubCode as it must disassemble, with rip-relative operands
// resolved to the data fields they reach. It is the check on the hand
// assembly: the same listing as the comments next to the bytes.
var stubListing = []struct {
	off  int
	text string
}{
	{0x100, "cmp edi, 0x3f"},
	{0x103, "jnbe 0x13d"},
	{0x105, "mov ecx, edi"},
	{0x107, "mov rax, qword ptr [mask]"},
	{0x10e, "bt rax, rcx"},
	{0x112, "jnb 0x13d"},
	{0x114, "push rsi"},
	{0x115, "call qword ptr [orig_cgt]"},
	{0x11b, "pop rsi"},
	{0x11c, "test eax, eax"},
	{0x11e, "jnz 0x13c"},
	{0x120, "mov rax, qword ptr [rsi]"},
	{0x123, "imul rax, rax, 0x3b9aca00"},
	{0x12a, "add rax, qword ptr [rsi+0x8]"},
	{0x12e, "call 0x1c4"},
	{0x133, "mov qword ptr [rsi], rax"},
	{0x136, "mov qword ptr [rsi+0x8], rdx"},
	{0x13a, "xor eax, eax"},
	{0x13c, "ret"},
	{0x13d, "jmp qword ptr [orig_cgt]"},

	{0x143, "test byte ptr [mask], 0x1"},
	{0x14a, "jz 0x18e"},
	{0x14c, "push rdi"},
	{0x14d, "call qword ptr [orig_gtod]"},
	{0x153, "pop rdi"},
	{0x154, "test eax, eax"},
	{0x156, "jnz 0x18d"},
	{0x158, "test rdi, rdi"},
	{0x15b, "jz 0x18d"},
	{0x15d, "mov rax, qword ptr [rdi]"},
	{0x160, "imul rax, rax, 0xf4240"},
	{0x167, "add rax, qword ptr [rdi+0x8]"},
	{0x16b, "imul rax, rax, 0x3e8"},
	{0x172, "call 0x1c4"},
	{0x177, "mov qword ptr [rdi], rax"},
	{0x17a, "mov rax, rdx"},
	{0x17d, "xor edx, edx"},
	{0x17f, "mov ecx, 0x3e8"},
	{0x184, "div rcx"},
	{0x187, "mov qword ptr [rdi+0x8], rax"},
	{0x18b, "xor eax, eax"},
	{0x18d, "ret"},
	{0x18e, "jmp qword ptr [orig_gtod]"},

	{0x194, "test byte ptr [mask], 0x1"},
	{0x19b, "jz 0x1be"},
	{0x19d, "push rdi"},
	{0x19e, "sub rsp, 0x10"},
	{0x1a2, "mov rsi, rsp"},
	{0x1a5, "xor edi, edi"},
	{0x1a7, "call 0x100"},
	{0x1ac, "mov rax, qword ptr [rsp]"},
	{0x1b0, "add rsp, 0x10"},
	{0x1b4, "pop rdi"},
	{0x1b5, "test rdi, rdi"},
	{0x1b8, "jz 0x1bd"},
	{0x1ba, "mov qword ptr [rdi], rax"},
	{0x1bd, "ret"},
	{0x1be, "jmp qword ptr [orig_time]"},

	{0x1c4, "add rax, qword ptr [skew]"},
	{0x1cb, "cqo"},
	{0x1cd, "mov ecx, 0x3b9aca00"},
	{0x1d2, "idiv rcx"},
	{0x1d5, "test rdx, rdx"},
	{0x1d8, "jns 0x1e0"},
	{0x1da, "dec rax"},
	{0x1dd, "add rdx, rcx"},
	{0x1e0, "ret"},

	{0x1e1, "mov eax, 0xe4"},
	{0x1e6, "syscall"},
	{0x1e8, "ret"},
	{0x1e9, "mov eax, 0x60"},
	{0x1ee, "syscall"},
	{0x1f0, "ret"},
	{0x1f1, "mov eax, 0xc9"},
	{0x1f6, "syscall"},
	{0x1f8, "ret"},
}

var dataFields = map[int64]string{
	offSkew: "skew", offMask: "mask", offOrig: "orig_cgt", offOrig + 8: "orig_gtod", offOrig + 16: "orig_time",
}

func TestStubDisassembly(t *testing.T) {
	var got []string
	for off := 0; off < len(stubCode); {
		inst, err := x86asm.Decode(stubCode[off:], 64)
		if err != nil {
			t.Fatalf("decoding at %#x: %v", offCode+off, err)
		}
		pc := int64(offCode + off)
		text := x86asm.IntelSyntax(inst, uint64(pc), nil)
		for _, a := range inst.Args {
			m, ok := a.(x86asm.Mem)
			if !ok || m.Base != x86asm.RIP {
				continue
			}
			target := pc + int64(inst.Len) + int64(int32(m.Disp)) // x86asm keeps disp32 zero-extended
			name, ok := dataFields[target]
			if !ok {
				t.Errorf("%#x: %s reaches %#x, which is no data field", pc, text, target)
				continue
			}
			disp := fmt.Sprintf("[rip+%#x]", uint32(int32(m.Disp)))
			text = strings.Replace(text, disp, "["+name+"]", 1)
		}
		got = append(got, fmt.Sprintf("%#x: %s", pc, text))
		off += inst.Len
	}
	var want []string
	for _, l := range stubListing {
		want = append(want, fmt.Sprintf("%#x: %s", l.off, l.text))
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("stubCode disassembles to\n%s\nwant\n%s", g, w)
	}
	if end := offCode + len(stubCode); end > offTramp {
		t.Errorf("code ends at %#x, past the trampolines at %#x", end, offTramp)
	}
	// The labels must be instruction boundaries of the listing.
	starts := map[int]bool{}
	for _, l := range stubListing {
		starts[l.off] = true
	}
	for _, h := range hooks {
		if !starts[int(h.code)] || !starts[int(h.sys)] {
			t.Errorf("%s: hook %#x or syscall fallback %#x is not an instruction start", h.name, h.code, h.sys)
		}
	}
}

func TestEntryJump(t *testing.T) {
	const target = 0x7f12_3456_7100
	b := entryJump(target)
	inst, err := x86asm.Decode(b, 64)
	if err != nil || inst.Len != 6 || x86asm.IntelSyntax(inst, 0, nil) != "jmp qword ptr [rip]" {
		t.Fatalf("entryJump decodes to %v (len %d, err %v), want jmp qword ptr [rip]", inst, inst.Len, err)
	}
	if got, ok := decodeEntryJump(b); !ok || got != target {
		t.Errorf("decodeEntryJump = %#x, %v; want %#x, true", got, ok, target)
	}
	if _, ok := decodeEntryJump([]byte{0x55, 0x48, 0x89, 0xe5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); ok {
		t.Error("decodeEntryJump accepted a function prologue")
	}
}

func TestPageDataRoundTrip(t *testing.T) {
	d := pageData{skew: -300e9, mask: uint64(WallClocks), orig: [3]uint64{1, 2, 3}, vdsoBase: 0x7fff0000}
	d.saved[1] = savedEntry{addr: 0x7fff0810, bytes: [16]byte{0x55, 0x4c, 0x8d}}
	b := d.encode()
	got, err := decodePageData(b)
	if err != nil {
		t.Fatal(err)
	}
	if *got != d {
		t.Errorf("round trip: got %+v, want %+v", *got, d)
	}
	b[7] = 9 // another layout version
	if _, err := decodePageData(b); err == nil {
		t.Error("a page of another layout version was accepted")
	}
}

func TestClockSet(t *testing.T) {
	s := Clocks(Realtime, Monotonic, TAI)
	if !s.Has(Realtime) || !s.Has(Monotonic) || !s.Has(TAI) || s.Has(RealtimeCoarse) || s.Has(-1) {
		t.Errorf("Clocks(...) = %v", s)
	}
	if got, want := s.String(), "{CLOCK_REALTIME,CLOCK_MONOTONIC,CLOCK_TAI}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if (Options{}).clocks() != WallClocks || WallClocks.Has(Monotonic) {
		t.Error("the default clocks must be the wall clocks, without CLOCK_MONOTONIC")
	}
}
