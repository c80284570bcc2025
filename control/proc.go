package control

import (
	"os"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/internal/procfs"
)

// ProcStat is what /proc/PID/stat says of a process that faultline uses.
type ProcStat = procfs.Stat

// ReadProcStat reads /proc/PID/stat (procfs.ReadStat). When the process
// does not exist (or has been reaped) the error satisfies
// errors.Is(err, os.ErrNotExist). Without /proc (not Linux) every call
// fails.
func ReadProcStat(pid int) (ProcStat, error) { return procfs.ReadStat(pid) }

// ProcState returns the state letter of process pid (ProcStat.State); on
// any error the letter is 0.
func ProcState(pid int) (byte, error) {
	st, err := ReadProcStat(pid)
	return st.State, err
}

// Cmdline is process pid's command line, its arguments joined by spaces
// and cut at 200 bytes ("" if it cannot be read).
func Cmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	s := strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
