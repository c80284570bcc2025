package clock

import "testing"

// TestTrampolineOwnVDSO relocates the prologues of this kernel's vDSO
// functions (read from this process, no root needed).
func TestTrampolineOwnVDSO(t *testing.T) {
	v, err := pristine()
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hooks {
		if !v.fns[i].ok {
			t.Logf("%s: not in this kernel's vDSO", h.name)
			continue
		}
		// The stub normally lands in the mmap area, within 2 GiB of the vDSO.
		at := v.base - 0x100000 + offTramp
		tr, err := trampoline(v.function(i), v.addr(i), at)
		if err != nil {
			t.Logf("%s: not relocatable on this kernel (calls will use the system call): %v", h.name, err)
			continue
		}
		checkTrampoline(t, v.function(i), v.addr(i), at, tr)
	}
}
