package agent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The agent's files under a node directory:
//
//	<dir>/agent/ledger-<session>.jsonl   faults applied and undone, fsync'd
//	<dir>/agent/warden-<session>.pid     "PID START" of the session's agent
//	<dir>/agent/warden-<session>.log     its log
//
// A session is one controller process's connection to the node. The
// ledger is written before a fault is applied, so an agent that dies
// (or a controller that dies with it) leaves a record that heal undoes.
func agentDir(dir string) string { return filepath.Join(dir, "agent") }

func ledgerPath(dir, session string) string {
	return filepath.Join(agentDir(dir), "ledger-"+session+".jsonl")
}

func pidPath(dir, session string) string {
	return filepath.Join(agentDir(dir), "warden-"+session+".pid")
}

// LogPath is where the agent of session logs on the node.
func LogPath(dir, session string) string {
	return filepath.Join(agentDir(dir), "warden-"+session+".log")
}

type ledgerLine struct {
	Time  time.Time `json:"time"`
	Fault int64     `json:"fault"`
	Undo  *undo     `json:"undo,omitempty"`
	Done  bool      `json:"done,omitempty"`
	By    string    `json:"by,omitempty"`
}

type ledger struct {
	path string
	f    *os.File
}

func openLedger(path string) (*ledger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &ledger{path: path, f: f}, nil
}

func (l *ledger) write(line ledgerLine) error {
	line.Time = time.Now().UTC()
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("ledger %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("ledger %s: fsync: %w", l.path, err)
	}
	return nil
}

// record notes how to undo fault; a later record of the same fault
// replaces it (a stop that found more processes).
func (l *ledger) record(fault int64, u undo) error {
	return l.write(ledgerLine{Fault: fault, Undo: &u})
}

// done notes that fault has been undone, by whom if not the controller.
func (l *ledger) done(fault int64, by string) error {
	return l.write(ledgerLine{Fault: fault, Done: true, By: by})
}

func (l *ledger) close() error { return l.f.Close() }

// outstanding reads the faults a ledger shows as applied and not undone,
// oldest first. A torn last line (the writer died mid-write) is ignored:
// its fault had not been applied.
func outstanding(path string) ([]int64, map[int64]undo, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	undos := map[int64]undo{}
	var order []int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var l ledgerLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case l.Done:
			delete(undos, l.Fault)
			order = slices.DeleteFunc(order, func(id int64) bool { return id == l.Fault })
		case l.Undo != nil:
			if _, ok := undos[l.Fault]; !ok {
				order = append(order, l.Fault)
			}
			undos[l.Fault] = *l.Undo
		}
	}
	return order, undos, sc.Err()
}

// sessions lists the sessions that have a ledger or a pid file in dir.
func sessions(dir string) ([]string, error) {
	entries, err := os.ReadDir(agentDir(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if s, ok := strings.CutPrefix(n, "ledger-"); ok {
			if s, ok := strings.CutSuffix(s, ".jsonl"); ok {
				set[s] = true
			}
		}
		if s, ok := strings.CutPrefix(n, "warden-"); ok {
			if s, ok := strings.CutSuffix(s, ".pid"); ok {
				set[s] = true
			}
		}
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// writePidFile records this process as session's agent.
func writePidFile(path string) error {
	st, err := readStat(os.Getpid())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(fmt.Sprintf("%d %d\n", os.Getpid(), st.start)), 0o644)
}

// readPidFile reads the agent a pid file names.
func readPidFile(path string) (Proc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Proc{}, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return Proc{}, fmt.Errorf("%s: malformed", path)
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return Proc{}, fmt.Errorf("%s: malformed", path)
	}
	return Proc{Pid: pid, Start: start}, nil
}
