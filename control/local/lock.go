package local

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockDir holds one lock file per live run, and is itself locked (hostnet.LockDir) while a run picks its subnet or while Cleanup decides what
// is a leftover, so those never interleave.
const lockDir = "/run/faultline"

// runMeta is written into a run's lock file for Cleanup and people to read.
type runMeta struct {
	RunID    string    `json:"run_id"`
	Pid      int       `json:"pid"`
	Detached bool      `json:"detached"`
	Created  time.Time `json:"created"`
}

func runLockPath(id string) string { return filepath.Join(lockDir, id+".lock") }

// createRunLock creates and locks the lock file of a new run. The lock is
// released when the returned file is closed or this process dies; a
// detached run passes the file to its processes so that they hold it on.
func createRunLock(id string, detached bool) (*os.File, error) {
	path := runLockPath(id)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating run lock: %w (a run %s exists; pick another run id or run `faultline heal`)", err, id)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	meta, _ := json.Marshal(runMeta{RunID: id, Pid: os.Getpid(), Detached: detached, Created: time.Now().UTC()})
	if _, err := f.Write(append(meta, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return f, nil
}

// runLockState reports whether run id's lock is held by a live process and
// what its lock file says. A run without a lock file is not alive.
func runLockState(id string) (alive bool, meta runMeta) {
	f, err := os.Open(runLockPath(id))
	if err != nil {
		return false, meta
	}
	defer f.Close()
	_ = json.NewDecoder(f).Decode(&meta)
	// flock locks belong to open file descriptions, so this probe conflicts
	// even with a lock held elsewhere in this process.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return true, meta
	}
	return false, meta
}
