package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/local"
	"github.com/faultline-dev/faultline/targets"
)

// localSystem runs a targets.DB on a local cluster: a network namespace per
// node on this host. Node data and logs live under the run's nodes/<node>/;
// data directories are removed at teardown, logs stay.
type localSystem struct {
	cfg SystemConfig
	// newDB builds the target on the cluster; client opens a workload
	// client bound to a node.
	newDB  func(c control.Cluster, dir string) (targets.DB, error)
	client func(db targets.DB, node string) (io.Closer, error)
	// dataDirs are the per-node subdirectories to remove at teardown.
	dataDirs []string

	cluster *local.Cluster
	db      targets.DB
}

func (s *localSystem) nodesDir() string { return filepath.Join(s.cfg.Dir, "nodes") }

func (s *localSystem) Start(ctx context.Context) error {
	c, err := local.New(ctx, local.Options{Nodes: s.cfg.Plan.Nodes})
	if err != nil {
		return fmt.Errorf("local hosts: %w", err)
	}
	s.cluster = c
	var addrs []string
	for _, n := range c.Nodes() {
		addrs = append(addrs, n.Name+"="+n.Addr.String())
	}
	s.cfg.Logf("local cluster %s: subnet %s, nodes %s", c.RunID(), c.Subnet(), strings.Join(addrs, " "))
	db, err := s.newDB(c, s.nodesDir())
	if err != nil {
		return err
	}
	s.db = db
	if err := db.Setup(ctx); err != nil {
		return fmt.Errorf("%s setup: %w", s.cfg.Plan.Target, err)
	}
	if err := db.WaitHealthy(ctx); err != nil {
		return fmt.Errorf("%s did not become healthy: %w", s.cfg.Plan.Target, err)
	}
	return nil
}

func (s *localSystem) Client(ctx context.Context, node string) (io.Closer, error) {
	if s.db == nil {
		return nil, errors.New("not started")
	}
	return s.client(s.db, node)
}

func (s *localSystem) WaitHealthy(ctx context.Context) error { return s.db.WaitHealthy(ctx) }

// CollectLogs: the target already writes its logs into nodes/<node>/; copy
// any it keeps elsewhere.
func (s *localSystem) CollectLogs(dir string) error {
	if s.db == nil {
		return nil
	}
	var errs []error
	for _, n := range s.cfg.Plan.Nodes {
		for _, f := range s.db.LogFiles(n) {
			dst := filepath.Join(dir, n, filepath.Base(f))
			if same(f, dst) {
				continue
			}
			if err := copyFile(f, dst); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (s *localSystem) Teardown(ctx context.Context) error {
	var errs []error
	if s.db != nil {
		if err := s.db.Teardown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s teardown: %w", s.cfg.Plan.Target, err))
		}
	}
	if s.cluster != nil {
		if err := s.cluster.Teardown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("local hosts teardown: %w", err))
		}
	}
	for _, n := range s.cfg.Plan.Nodes {
		for _, d := range s.dataDirs {
			if err := os.RemoveAll(filepath.Join(s.nodesDir(), n, d)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Cluster and DB let the nemesis reach the hosts and the target.
func (s *localSystem) Cluster() control.Cluster { return s.cluster }
func (s *localSystem) DB() targets.DB           { return s.db }

func same(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ConsistencyModel is what the target claims, when it says (e.g. a
// PostgreSQL isolation level's model); "" otherwise.
func (s *localSystem) ConsistencyModel() string {
	if c, ok := s.db.(interface{ ConsistencyModel() string }); ok {
		return c.ConsistencyModel()
	}
	return ""
}
