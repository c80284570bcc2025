package control

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
)

// The executable that backends install on nodes as faultline's agent (and
// that runs etcd members): by default this process's own, so a node runs
// exactly the faultline that drives it.
var binary struct {
	mu   sync.Mutex
	path string
	hash string
	err  error
}

// SetBinary makes path the executable installed on nodes. Tests point it
// at a faultline they built; a test binary whose TestMain dispatches the
// agent's subcommands works too where nodes share this host's filesystem.
func SetBinary(path string) {
	binary.mu.Lock()
	defer binary.mu.Unlock()
	binary.path, binary.hash, binary.err = path, "", nil
}

// BinaryPath is the executable installed on nodes.
func BinaryPath() (string, error) {
	binary.mu.Lock()
	defer binary.mu.Unlock()
	return binaryPathLocked()
}

func binaryPathLocked() (string, error) {
	if binary.path != "" {
		return binary.path, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding faultline's own executable to install on the nodes: %w", err)
	}
	binary.path = exe
	return exe, nil
}

// BinaryHash is the hex SHA-256 of the executable installed on nodes,
// computed once: backends name the installed copy by it, so a node keeps
// one copy per faultline build and uploads only what it lacks.
func BinaryHash() (string, error) {
	binary.mu.Lock()
	defer binary.mu.Unlock()
	if binary.hash != "" || binary.err != nil {
		return binary.hash, binary.err
	}
	path, err := binaryPathLocked()
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		binary.err = fmt.Errorf("hashing %s: %w", path, err)
		return "", binary.err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		binary.err = fmt.Errorf("hashing %s: %w", path, err)
		return "", binary.err
	}
	binary.hash = hex.EncodeToString(h.Sum(nil))
	return binary.hash, nil
}

// BinaryIsStatic reports whether the executable installed on nodes is
// statically linked (no ELF interpreter), so that it runs on a node whose
// C library differs from this host's. Build with CGO_ENABLED=0 to get one.
func BinaryIsStatic() (bool, error) {
	path, err := BinaryPath()
	if err != nil {
		return false, err
	}
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}
