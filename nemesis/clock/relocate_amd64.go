package clock

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// trampoline builds, for a trampoline at address at, code that behaves like
// the function fn (its bytes, loaded at address pc) once fn's first
// entryJumpLen bytes are overwritten by our jump: copies of the whole
// instructions that cover those bytes, with their pc-relative displacements
// adjusted, then a jump back into fn after them.
//
// It refuses (and the hook then falls back to a real system call) when that
// could be wrong: an instruction it cannot decode, a short pc-relative
// operand, a displacement that no longer fits in 32 bits (the stub landed more
// than 2 GiB from the vDSO), or a branch inside fn that lands among the copied
// instructions. Linear-sweep decoding is sound here because the vDSO is
// compiler output with no data in its functions.
//
// golang.org/x/arch/x86/x86asm does the decoding: an x86 length decoder that
// also reports where pc-relative fields are is not something to write by hand.
func trampoline(fn []byte, pc, at uint64) ([]byte, error) {
	var out []byte
	n := 0
	for n < entryJumpLen {
		if n >= len(fn) {
			return nil, fmt.Errorf("function is shorter than the %d-byte jump", entryJumpLen)
		}
		inst, err := x86asm.Decode(fn[n:], 64)
		if err != nil {
			return nil, fmt.Errorf("decoding the prologue at +%#x: %w", n, err)
		}
		b := append([]byte(nil), fn[n:n+inst.Len]...)
		if inst.PCRel != 0 {
			if inst.PCRel != 4 {
				return nil, fmt.Errorf("%d-byte pc-relative field in %q at +%#x", inst.PCRel, inst, n)
			}
			disp := int64(int32(binary.LittleEndian.Uint32(b[inst.PCRelOff:])))
			target := int64(pc) + int64(n+inst.Len) + disp
			moved := target - (int64(at) + int64(len(out)+inst.Len))
			if moved != int64(int32(moved)) {
				return nil, fmt.Errorf("pc-relative target of %q at +%#x is out of reach from %#x", inst, n, at)
			}
			binary.LittleEndian.PutUint32(b[inst.PCRelOff:], uint32(int32(moved)))
		}
		out = append(out, b...)
		n += inst.Len
	}
	if n > len(fn) {
		return nil, fmt.Errorf("the prologue's instructions run past the function's end")
	}
	for off := 0; off < len(fn); {
		inst, err := x86asm.Decode(fn[off:], 64)
		if err != nil {
			return nil, fmt.Errorf("decoding the function at +%#x: %w", off, err)
		}
		for _, a := range inst.Args {
			if rel, ok := a.(x86asm.Rel); ok {
				t := int64(off+inst.Len) + int64(rel)
				if t >= 0 && t < int64(n) {
					return nil, fmt.Errorf("%q at +%#x branches into the relocated prologue (+%#x)", inst, off, t)
				}
			}
		}
		off += inst.Len
	}
	out = append(out, 0xff, 0x25, 0, 0, 0, 0) // jmp [rip+0]
	out = binary.LittleEndian.AppendUint64(out, pc+uint64(n))
	if len(out) > trampSize {
		return nil, fmt.Errorf("trampoline needs %d bytes, has %d", len(out), trampSize)
	}
	return out, nil
}
