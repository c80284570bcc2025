package controller

import (
	"context"
	"errors"
	"fmt"
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
