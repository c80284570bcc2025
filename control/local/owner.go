package local

// RunIDs lists the ids of the runs whose namespaces, controller-side links
// or lock files are on this host, live or not.
func RunIDs() ([]string, error) { return leftoverRunIDs() }

// RunOwner reports whether run id is alive (its lock is held by a live
// process) and what its lock file says: the pid that created it and
// whether it was made to outlive its creator (`faultline cluster up`).
// Tools that act on other runs' nodes (nemesis heal) use it to leave a
// live controller's run alone.
func RunOwner(id string) (LiveRun, bool) {
	alive, meta := runLockState(id)
	return LiveRun{RunID: id, Pid: meta.Pid, Detached: meta.Detached}, alive
}
