package control

import "os"

// Owner identifies a controller process on this host across pid reuse:
// journals and cluster records name the process that made them, so that
// heal can tell a live controller's run from a dead one's.
type Owner struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Self is this process as an Owner.
func Self() Owner {
	_, _, start, _ := procStat(os.Getpid())
	return Owner{Pid: os.Getpid(), Start: start}
}

// Alive reports whether the owner process still runs.
func (o Owner) Alive() bool {
	state, _, start, ok := procStat(o.Pid)
	return ok && start == o.Start && state != 'Z' && state != 'X'
}
