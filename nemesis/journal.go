package nemesis

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/control"
)

// JournalFile is the journal's name in a run's store directory (and in
// <store>/cluster/ for `faultline nemesis` on a `cluster up` cluster);
// HealLeftovers looks for files of this name.
const JournalFile = "nemesis-journal.jsonl"

// Journal events.
const (
	EventOpen    = "open"    // a process opened the journal
	EventInject  = "inject"  // an action is about to be applied
	EventRecover = "recover" // an action has been undone
)

// Entry is one line of a journal.
type Entry struct {
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
	// ID ties a recover to its inject; unique within the journal.
	ID    int64  `json:"id,omitempty"`
	Fault string `json:"fault,omitempty"`
	// Action is the action as its fault describes it, for people.
	Action json.RawMessage `json:"action,omitempty"`
	// Residue is what HealJournal undoes if no recover follows.
	Residue *Residue `json:"residue,omitempty"`
	// Owner is the process that wrote an open or inject entry.
	Owner *Owner `json:"owner,omitempty"`
	// By says who recovered an action when it was not its owner ("heal").
	By string `json:"by,omitempty"`
	// Cluster, in an open entry, is the cluster the journal's faults act
	// on, for heal to reach its nodes again; Session is the opener's
	// session with the nodes' agents.
	Cluster *control.Ref `json:"cluster,omitempty"`
	Session string       `json:"session,omitempty"`
}

// Owner identifies a controller process across pid reuse.
type Owner = control.Owner

func self() Owner { return control.Self() }

// Journal is an append-only record of the actions applied to a cluster:
// each is written and fsync'd before it is applied, and its recovery after
// it is undone, so that a controller that dies leaves a record of what is
// still in effect (see HealJournal). It is safe for concurrent use.
type Journal struct {
	path  string
	owner Owner

	mu     sync.Mutex
	f      *os.File
	nextID int64
}

// OpenJournal opens the journal at path for appending, creating it (and
// its directory) if needed. cluster (nil in tests that reach no node) is
// recorded in the open entry with the agents' session.
func OpenJournal(path string, cluster *control.Ref, session string) (*Journal, error) {
	entries, err := ReadJournal(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	j := &Journal{path: path, owner: self(), nextID: 1}
	for _, e := range entries {
		j.nextID = max(j.nextID, e.ID+1)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("nemesis journal: %w", err)
	}
	j.f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("nemesis journal: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		j.f.Close()
		return nil, err
	}
	if err := j.write(Entry{Event: EventOpen, Owner: &j.owner, Cluster: cluster, Session: session}); err != nil {
		j.f.Close()
		return nil, err
	}
	return j, nil
}

// Path is where the journal is.
func (j *Journal) Path() string { return j.path }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("nemesis journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("nemesis journal: syncing %s: %w", dir, err)
	}
	return nil
}

func (j *Journal) write(e Entry) error {
	if j.f == nil {
		return fmt.Errorf("nemesis journal %s: closed", j.path)
	}
	e.Time = time.Now().UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("nemesis journal: encoding %s of %s: %w", e.Event, e.Fault, err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("nemesis journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("nemesis journal %s: fsync: %w", j.path, err)
	}
	return nil
}

// Inject records that action a of fault is about to be applied and
// returns its id.
func (j *Journal) Inject(fault string, a Action) (int64, error) {
	raw, err := json.Marshal(a)
	if err != nil {
		return 0, fmt.Errorf("nemesis journal: encoding the action of %s: %w", fault, err)
	}
	r := a.Residue()
	j.mu.Lock()
	defer j.mu.Unlock()
	id := j.nextID
	if err := j.write(Entry{Event: EventInject, ID: id, Fault: fault, Action: raw, Residue: &r, Owner: &j.owner}); err != nil {
		return 0, err
	}
	j.nextID++
	return id, nil
}

// Recover records that action id has been undone (by: who, if not its
// owner).
func (j *Journal) Recover(id int64, fault, by string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.write(Entry{Event: EventRecover, ID: id, Fault: fault, By: by})
}

// Close closes the journal file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// ReadJournal reads every entry of the journal at path. A torn last line
// (the writer died mid-write) is ignored: its action had not been applied.
func ReadJournal(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	var bad error
	for sc.Scan() {
		line++
		if bad != nil {
			return nil, bad // a bad line that was not the last one
		}
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			bad = fmt.Errorf("%s:%d: %w", path, line, err)
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Outstanding returns the inject entries that no recover entry follows:
// the actions that may still be in effect, oldest first.
func Outstanding(entries []Entry) []Entry {
	done := map[int64]bool{}
	for _, e := range entries {
		if e.Event == EventRecover {
			done[e.ID] = true
		}
	}
	var out []Entry
	for _, e := range entries {
		if e.Event == EventInject && !done[e.ID] {
			out = append(out, e)
		}
	}
	return out
}
