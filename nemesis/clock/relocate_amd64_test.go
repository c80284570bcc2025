package clock

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// checkTrampoline decodes a trampoline built for fn at pc and checks that it
// repeats fn's first instructions with the same absolute pc-relative targets
// and then jumps back to the first byte it did not copy.
func checkTrampoline(t *testing.T, fn []byte, pc, at uint64, tr []byte) {
	t.Helper()
	n, m := 0, 0 // offsets in fn and tr
	for n < entryJumpLen {
		a, err := x86asm.Decode(fn[n:], 64)
		if err != nil {
			t.Fatalf("decoding fn at +%#x: %v", n, err)
		}
		b, err := x86asm.Decode(tr[m:], 64)
		if err != nil {
			t.Fatalf("decoding trampoline at +%#x: %v", m, err)
		}
		if a.Op != b.Op || a.Len != b.Len {
			t.Fatalf("trampoline +%#x is %v, fn +%#x is %v", m, b, n, a)
		}
		if a.PCRel == 0 {
			if string(fn[n:n+a.Len]) != string(tr[m:m+b.Len]) {
				t.Errorf("trampoline +%#x: bytes changed for %v", m, a)
			}
		} else {
			ta := int64(pc) + int64(n+a.Len) + int64(int32(binary.LittleEndian.Uint32(fn[n+a.PCRelOff:])))
			tb := int64(at) + int64(m+b.Len) + int64(int32(binary.LittleEndian.Uint32(tr[m+b.PCRelOff:])))
			if ta != tb {
				t.Errorf("%v: target %#x in fn, %#x in the trampoline", a, ta, tb)
			}
		}
		n += a.Len
		m += b.Len
	}
	back, ok := decodeEntryJump(tr[m:])
	if !ok || back != pc+uint64(n) {
		t.Errorf("trampoline ends with % x, want a jump back to %#x", tr[m:], pc+uint64(n))
	}
}

func TestTrampoline(t *testing.T) {
	const pc = 0x7fff_f7fc_0000
	ret := []byte{0xc3}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	plain := []byte{
		0x55,             // push rbp
		0x48, 0x89, 0xe5, // mov rbp, rsp
		0x41, 0x56, // push r14
		0x53,                   // push rbx
		0x48, 0x83, 0xe4, 0xf0, // and rsp, -16
		0x48, 0x83, 0xec, 0x10, // sub rsp, 16
	}
	ripRel := []byte{
		0x55,                                     // push rbp
		0x4c, 0x8d, 0x15, 0xe8, 0x97, 0xff, 0xff, // lea r10, [rip-0x6818]
		0x48, 0x89, 0xe5, // mov rbp, rsp
		0x48, 0x83, 0xe4, 0xf0, // and rsp, -16
	}
	tests := []struct {
		name    string
		fn      []byte
		at      uint64
		wantErr string // "" if it must work
	}{
		{"plain prologue", cat(plain, ret), pc + 0x10_0000, ""},
		{"plain prologue, far away", cat(plain, ret), pc + 1<<40, ""},
		{"rip-relative lea", cat(ripRel, ret), pc - 0x10_0000, ""},
		{"rip-relative lea out of reach", cat(ripRel, ret), pc + 1<<40, "out of reach"},
		{"short jump in the prologue", cat([]byte{0xeb, 0x10}, plain, ret), pc + 0x1000, "1-byte pc-relative"},
		{"loop back into the prologue", cat(plain, []byte{0x75, 0xf4}, ret), pc + 0x1000, "branches into the relocated prologue"},
		{"loop back to the entry", cat(plain, []byte{0xe9, 0xec, 0xff, 0xff, 0xff}, ret), pc + 0x1000, "branches into"},
		{"too short", []byte{0x31, 0xc0, 0xc3}, pc + 0x1000, "shorter"},
		{"undecodable", cat([]byte{0x06}, plain, ret), pc + 0x1000, "decoding"}, // push es: invalid in 64-bit mode
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := trampoline(tc.fn, pc, tc.at)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("trampoline() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkTrampoline(t, tc.fn, pc, tc.at, tr)
		})
	}
}
