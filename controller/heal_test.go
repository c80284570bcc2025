package controller

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
)

// A dead run whose nodes are gone (a reboot, a sweep that came first)
// still has its etcd data in the store: heal removes it, keeps the logs,
// and marks the cluster torn down.
func TestHealRemovesDataOfGoneNodes(t *testing.T) {
	store := t.TempDir()
	dir := filepath.Join(store, "etcd-register", "20260101T000000")
	var nodes []control.NodeRef
	for _, n := range []string{"n1", "n2"} {
		nd := filepath.Join(dir, "nodes", n)
		if err := os.MkdirAll(filepath.Join(nd, "data", "member"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(nd, "etcd.log"), []byte("log\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, control.NodeRef{Name: n, Addr: "10.99.0.1", Dir: nd})
	}
	rec := ClusterRecord{
		// No such namespaces on this host: the nodes are gone.
		Cluster: control.Ref{Backend: "local", RunID: "zz9zz9", Nodes: nodes},
		Owner:   control.Owner{Pid: 1, Start: 1}, // not pid 1's start time: dead
		Target:  "etcd", Created: time.Now(),
	}
	if err := WriteClusterRecord(dir, rec); err != nil {
		t.Fatal(err)
	}
	rep, err := HealStore(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"n1", "n2"} {
		if _, err := os.Stat(filepath.Join(dir, "nodes", n, "data")); !os.IsNotExist(err) {
			t.Errorf("%s's data is still there: %v", n, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "nodes", n, "etcd.log")); err != nil {
			t.Errorf("%s's log is gone: %v", n, err)
		}
	}
	if len(rep.Undone) != 2 || !strings.Contains(rep.Undone[0], "the etcd data of node n1 of run zz9zz9") {
		t.Errorf("report %+v", rep)
	}
	back, err := ReadClusterRecord(dir)
	if err != nil || !back.TornDown {
		t.Errorf("record not marked torn down: %+v %v", back, err)
	}
}
