package nemesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
)

// Report says what HealJournal or HealNodes undid, and what they left.
type Report struct {
	// Undone are the things undone, one line each, prefixed by the node.
	Undone []string
	// Killed are nodes an action killed and nobody restarted: restarting
	// them needs the target (faultline nemesis heal does it).
	Killed []string
	// Journals are the journals whose outstanding actions were healed.
	Journals []string
	// Skipped says what was left alone, and why.
	Skipped []string

	_ struct{}
}

// Empty reports whether nothing was undone or left.
func (r Report) Empty() bool { return len(r.Undone)+len(r.Killed) == 0 }

func (r *Report) merge(o Report) {
	r.Undone = append(r.Undone, o.Undone...)
	r.Killed = append(r.Killed, o.Killed...)
	r.Journals = append(r.Journals, o.Journals...)
	r.Skipped = append(r.Skipped, o.Skipped...)
}

// Merge adds o to r.
func (r *Report) Merge(o Report) { r.merge(o) }

// String is the report as people read it, one line per thing.
func (r Report) String() string {
	var b strings.Builder
	for _, u := range r.Undone {
		b.WriteString(u + "\n")
	}
	for _, k := range r.Killed {
		fmt.Fprintf(&b, "the service on %s was killed and not restarted\n", k)
	}
	for _, j := range r.Journals {
		fmt.Fprintf(&b, "marked the faults of %s healed\n", j)
	}
	for _, s := range r.Skipped {
		b.WriteString("left alone: " + s + "\n")
	}
	return b.String()
}

// HealOptions say what HealNodes does besides undoing what the agents'
// ledgers hold.
type HealOptions struct {
	// Sweep also removes faultline's chains, netem and clock skews found
	// on the nodes, ledger or not.
	Sweep bool
	// ContStopped also resumes every stopped process in the node's
	// network namespace: only for nodes that are faultline's own
	// namespaces (the local backend).
	ContStopped bool
	// Reap also kills what the run spawned on the nodes; Remove removes
	// the node directories at the end.
	Reap, Remove bool

	_ struct{}
}

// HealNodes has each node's agent undo, from its ledgers, every fault the
// sessions of this run hold there (agent heal), in parallel.
func HealNodes(ctx context.Context, c control.Cluster, opts HealOptions) (Report, error) {
	var rep Report
	var mu sync.Mutex
	err := forNodes(control.NodeNames(c), func(n string) error {
		args := []string{agent.Command, "heal", "--dir", c.NodeDir(n)}
		for _, f := range []struct {
			on   bool
			flag string
		}{{opts.Sweep, "--sweep"}, {opts.ContStopped, "--cont-stopped"}, {opts.Reap, "--reap"}, {opts.Remove, "--remove"}} {
			if f.on {
				args = append(args, f.flag)
			}
		}
		var out, stderr bytes.Buffer
		cmd := control.AgentCmd(c, n, args[1:]...)
		cmd.Stdout, cmd.Stderr = &out, &stderr
		_, err := c.Exec(ctx, n, cmd)
		mu.Lock()
		defer mu.Unlock()
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if line != "" {
				rep.Undone = append(rep.Undone, n+": "+line)
			}
		}
		if err != nil {
			return fmt.Errorf("healing %s: %w: %s", n, err, control.Tail(stderr.Bytes(), 300))
		}
		return nil
	})
	return rep, err
}

// HealJournal undoes every action the journal at path shows as applied
// and not recovered: it reaches the journal's cluster again through its
// backend and has each node's agent undo what its ledgers hold. Killed
// nodes are reported, not restarted: that needs the target. Healed
// actions are marked recovered in the journal. It does not check that the
// journal's owner is dead: call it for a controller that is.
func HealJournal(ctx context.Context, path string) (Report, error) {
	var rep Report
	entries, err := ReadJournal(path)
	if err != nil {
		return rep, fmt.Errorf("heal: %w", err)
	}
	out := Outstanding(entries)
	if len(out) == 0 {
		return rep, nil
	}
	var ref *control.Ref
	for _, e := range entries {
		if e.Event == EventOpen && e.Cluster != nil {
			ref = e.Cluster
		}
	}
	if ref == nil {
		return rep, fmt.Errorf("heal: %s: no cluster recorded (a journal of an older faultline?): run `faultline heal` to sweep this host", path)
	}
	c, err := control.Attach(ctx, *ref, control.Config{})
	if errors.Is(err, control.ErrGone) {
		// The cluster has gone, and its faults with it.
		rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: its cluster %s has gone", path, ref.RunID))
	} else if err != nil {
		return rep, fmt.Errorf("heal: %s: reaching cluster %s (%s): %w", path, ref.RunID, ref.Backend, err)
	} else {
		// The run is dead: its faults, and the chains it made for them, go.
		r, err := HealNodes(ctx, c, HealOptions{Sweep: true})
		rep.merge(r)
		if err != nil {
			return rep, fmt.Errorf("heal: %s: %w", path, err)
		}
	}
	for _, e := range out {
		if e.Residue != nil {
			rep.Killed = append(rep.Killed, e.Residue.Killed...)
		}
	}
	if err := markHealed(path, out); err != nil {
		return rep, err
	}
	rep.Journals = append(rep.Journals, path)
	return rep, nil
}

func markHealed(path string, healed []Entry) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("heal: marking %s: %w", path, err)
	}
	j := &Journal{path: path, f: f}
	defer j.Close()
	for _, e := range healed {
		if err := j.Recover(e.ID, e.Fault, "heal"); err != nil {
			return err
		}
	}
	return nil
}

// FindJournals finds journals in storeDir, a few levels deep
// (store/<test>/<time>/, store/cluster/), without following links
// (store/latest).
func FindJournals(storeDir string) ([]string, error) {
	return FindFiles(storeDir, JournalFile)
}

// FindFiles finds files called name in storeDir, a few levels deep,
// without following links.
func FindFiles(storeDir, name string) ([]string, error) {
	var out []string
	root := filepath.Clean(storeDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		if d.IsDir() && strings.Count(strings.TrimPrefix(p, root), string(filepath.Separator)) > 3 {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == name {
			out = append(out, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("heal: looking for %s in %s: %w", name, storeDir, err)
	}
	return out, nil
}
