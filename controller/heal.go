package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/nemesis"
)

// HealStore undoes what runs recorded under store left behind when their
// controller died: the outstanding faults of every nemesis journal, then,
// for every run whose cluster was never torn down, the cluster itself
// (faults healed by the nodes' agents, the target stopped, its logs
// collected into the run's directory, the nodes removed), whatever its
// backend, reached again from the run's cluster record. Runs whose
// controller is alive are left alone, and so are clusters made by
// `faultline cluster up` (cluster down removes those).
func HealStore(ctx context.Context, store string) (nemesis.Report, error) {
	var rep nemesis.Report
	var errs []error
	journals, err := nemesis.FindJournals(store)
	if err != nil {
		errs = append(errs, err)
	}
	me := control.Self()
	for _, p := range journals {
		entries, err := nemesis.ReadJournal(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out := nemesis.Outstanding(entries)
		if len(out) == 0 {
			continue
		}
		if o := out[len(out)-1].Owner; o != nil && *o != me && o.Alive() {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: its controller (pid %d) is alive", p, o.Pid))
			continue
		}
		r, err := nemesis.HealJournal(ctx, p)
		rep.Merge(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	records, err := nemesis.FindFiles(store, ClusterFile)
	if err != nil {
		errs = append(errs, err)
	}
	for _, p := range records {
		dir := filepath.Dir(p)
		rec, err := ReadClusterRecord(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case rec.TornDown:
			continue
		case rec.Detached:
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: a cluster made by 'faultline cluster up' (cluster down removes it)", dir))
			continue
		case rec.Owner != me && rec.Owner.Alive():
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: its controller (pid %d) is alive", dir, rec.Owner.Pid))
			continue
		}
		a, err := Attach(ctx, dir)
		if errors.Is(err, control.ErrGone) {
			// The nodes are gone (a reboot, a sweep): what the target
			// left in their directories is removed where heal can reach
			// it, named where it cannot.
			r, err := removeDataDirs(rec)
			rep.Merge(r)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", dir, err))
				continue
			}
			rec.TornDown = true
			_ = WriteClusterRecord(dir, rec)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dir, err))
			continue
		}
		r, err := a.Down(ctx)
		rep.Merge(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dir, err))
			continue
		}
		rep.Undone = append(rep.Undone, fmt.Sprintf("ended the %s cluster %s of the dead run %s: what it made removed, its logs in %s", rec.Cluster.Backend, rec.Cluster.RunID, dir, filepath.Join(dir, "nodes")))
	}
	return rep, errors.Join(errs...)
}

// removeDataDirs removes the target's data directories of the nodes of a
// cluster whose nodes are gone, when the backend keeps node directories
// on this host (local, docker); for other backends it names them.
func removeDataDirs(rec ClusterRecord) (nemesis.Report, error) {
	var rep nemesis.Report
	spec, err := LookupTarget(rec.Target)
	if err != nil || len(spec.DataDirs) == 0 {
		return rep, nil
	}
	b, err := control.Lookup(rec.Cluster.Backend)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, n := range rec.Cluster.Nodes {
		if n.Dir == "" {
			continue
		}
		for _, d := range spec.DataDirs {
			p := filepath.Join(n.Dir, d)
			if !b.HostDirs {
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("left %s data directory %s on node %s: the node could not be reached (remove it by hand)", rec.Target, p, n.Name))
				continue
			}
			if _, err := os.Lstat(p); err != nil {
				continue
			}
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.Undone = append(rep.Undone, fmt.Sprintf("removed %s, the %s data of node %s of run %s (its nodes were gone)", p, rec.Target, n.Name, rec.Cluster.RunID))
		}
	}
	return rep, errors.Join(errs...)
}
