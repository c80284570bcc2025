package controller

import (
	"io"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/targets"
	"github.com/faultline-dev/faultline/targets/etcd"
	"github.com/faultline-dev/faultline/targets/memory"
	"github.com/faultline-dev/faultline/targets/postgres"

	// Workloads register themselves: one import line each.
	_ "github.com/faultline-dev/faultline/workloads/append"
	_ "github.com/faultline-dev/faultline/workloads/register"
	_ "github.com/faultline-dev/faultline/workloads/rwregister"
)

// The targets faultline knows: one entry each.
func init() {
	RegisterTarget("etcd", etcdClient{}, func(cfg SystemConfig) (System, error) {
		return &localSystem{
			cfg:      cfg,
			dataDirs: []string{"data"},
			newDB: func(c control.Cluster, dir string) (targets.DB, error) {
				return etcd.New(c, etcd.Options{
					Dir:             dir,
					ReadConsistency: cfg.Plan.ReadConsistency,
					RequestTimeout:  time.Duration(cfg.Plan.OpTimeout),
				})
			},
			client: func(db targets.DB, node string) (io.Closer, error) {
				c, err := db.(*etcd.Target).Client(node)
				if err != nil {
					return nil, err
				}
				return etcdClient{c}, nil
			},
		}, nil
	})
	RegisterTarget("postgres", (*postgres.Client)(nil), func(cfg SystemConfig) (System, error) {
		return &localSystem{
			cfg:      cfg,
			dataDirs: []string{"data"},
			newDB: func(c control.Cluster, dir string) (targets.DB, error) {
				return postgres.New(c, postgres.Options{
					Isolation:      cfg.Plan.Isolation,
					OnConflict:     cfg.Plan.Upsert == "on-conflict",
					Dir:            dir,
					RequestTimeout: time.Duration(cfg.Plan.OpTimeout),
				})
			},
			client: func(db targets.DB, node string) (io.Closer, error) {
				c, err := db.(*postgres.Target).Client(node)
				if err != nil {
					return nil, err
				}
				return c, nil
			},
		}, nil
	})
	RegisterTarget("memory", (*memory.Client)(nil), func(cfg SystemConfig) (System, error) {
		s := memory.New(cfg.Plan.Nodes)
		s.Latency = 2 * time.Millisecond
		return s, nil
	})
}

// etcdClient adds the error classification the register workload asks for.
type etcdClient struct{ *etcd.Client }

func (etcdClient) Definite(err error) bool { return etcd.Definite(err) }
