package control

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Owner identifies a controller process on this host across pid reuse:
// journals and cluster records name the process that made them, so that
// heal can tell a live controller's run from a dead one's.
type Owner struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Self is this process as an Owner.
func Self() Owner {
	start, _, _ := procStart(os.Getpid())
	return Owner{Pid: os.Getpid(), Start: start}
}

// Alive reports whether the owner process still runs.
func (o Owner) Alive() bool {
	start, state, ok := procStart(o.Pid)
	return ok && start == o.Start && state != 'Z' && state != 'X'
}

// procStart reads pid's start time (field 22 of /proc/PID/stat) and state.
func procStart(pid int) (uint64, byte, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return start, f[0][0], true
}
