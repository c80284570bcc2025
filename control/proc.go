package control

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// ProcState returns the state letter of process pid as Linux's
// /proc/PID/stat shows it: R running, S sleeping, D in uninterruptible
// sleep, T stopped by a signal, t stopped by a tracer, Z zombie, X dead, and
// so on (see proc(5)).
//
// When the process does not exist (or has been reaped) the error satisfies
// errors.Is(err, os.ErrNotExist); on any error the letter is 0. Without
// /proc (not Linux) every call fails.
func ProcState(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may contain anything, even
	// ')': the state is the field after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("/proc/%d/stat: malformed: %q", pid, b)
	}
	return b[i+2], nil
}
