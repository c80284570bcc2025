package sshtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faultline-dev/faultline/internal/hostnet"
)

// A fixture's processes die with the test binary (parent-death signals),
// but its namespaces, host link and directory would not: a test binary
// killed by its -timeout leaves them. So each live fixture holds a lock
// file, and Start first sweeps what fixtures whose lock is no longer held
// left behind.

var nsRe = regexp.MustCompile(`^sshfx-([a-z0-9]{6})-[a-z0-9]+$`)

// ownerMeta is written into a fixture's lock file.
type ownerMeta struct {
	ID  string `json:"id"`
	Pid int    `json:"pid"`
	Dir string `json:"dir"`
}

func ownerLockPath(id string) string { return filepath.Join(stateDir, id+".lock") }

// createOwnerLock creates and locks fixture id's lock file; it is held
// until the file is closed or this process dies.
func createOwnerLock(id, dir string) (*os.File, error) {
	path := ownerLockPath(id)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	b, _ := json.Marshal(ownerMeta{ID: id, Pid: os.Getpid(), Dir: dir})
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

// sweep removes what dead fixtures left: their processes, namespaces,
// host link, directory and lock file. The caller holds the host lock.
func sweep() error {
	stale := map[string]ownerMeta{}
	entries, _ := os.ReadDir(stateDir)
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".lock")
		if !ok {
			continue
		}
		f, err := os.Open(filepath.Join(stateDir, e.Name()))
		if err != nil {
			continue
		}
		var meta ownerMeta
		_ = json.NewDecoder(f).Decode(&meta)
		if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == nil {
			stale[id] = meta
		}
		f.Close()
	}
	// Namespaces with no lock file at all are leftovers too: a live
	// fixture makes its lock file before its namespaces.
	nss, _ := hostnet.ListNamespaces()
	for _, name := range nss {
		if m := nsRe.FindStringSubmatch(name); m != nil {
			if _, err := os.Stat(ownerLockPath(m[1])); errors.Is(err, os.ErrNotExist) {
				stale[m[1]] = ownerMeta{ID: m[1]}
			}
		}
	}
	var errs []error
	for id, meta := range stale {
		if err := removeFixture(id, meta.Dir); err != nil {
			errs = append(errs, fmt.Errorf("removing what fixture %s left: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// removeFixture kills every process in fixture id's namespaces, then
// removes the namespaces, host link, dir and lock file.
func removeFixture(id, dir string) error {
	inodes := map[uint64]bool{}
	nss, _ := hostnet.ListNamespaces()
	for _, name := range nss {
		if strings.HasPrefix(name, prefix+id+"-") {
			if ino, err := hostnet.NamespaceInode(name); err == nil {
				inodes[ino] = true
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := procsIn(inodes)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v survive SIGKILL", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	err := removeNetwork(id)
	if dir != "" && strings.Contains(filepath.Base(dir), prefix+id) {
		if rerr := os.RemoveAll(dir); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if rerr := os.Remove(ownerLockPath(id)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// procsIn lists the processes whose network namespace has one of inodes.
func procsIn(inodes map[uint64]bool) []int {
	if len(inodes) == 0 {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && inodes[st.Ino] {
			out = append(out, pid)
		}
	}
	return out
}
