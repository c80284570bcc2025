package controller

import (
	"io"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/targets"
	"github.com/faultline-dev/faultline/targets/etcd"
	"github.com/faultline-dev/faultline/targets/memory"
	"github.com/faultline-dev/faultline/targets/postgres"
	"github.com/faultline-dev/faultline/targets/redis"

	// Workloads register themselves: one import line each.
	_ "github.com/faultline-dev/faultline/workloads/append"
	_ "github.com/faultline-dev/faultline/workloads/bank"
	_ "github.com/faultline-dev/faultline/workloads/counter"
	_ "github.com/faultline-dev/faultline/workloads/lock"
	_ "github.com/faultline-dev/faultline/workloads/queue"
	_ "github.com/faultline-dev/faultline/workloads/register"
	_ "github.com/faultline-dev/faultline/workloads/rwregister"
	_ "github.com/faultline-dev/faultline/workloads/set"
	_ "github.com/faultline-dev/faultline/workloads/uniqueids"
)

// The targets faultline knows: one entry each.
func init() {
	RegisterTarget(TargetSpec{
		Name:         "etcd",
		Doc:          "etcd v3.6 members run by faultline's own binary on each node (nothing to install), or an existing etcd cluster",
		Client:       etcdClient{},
		Options:      etcd.OptionSpecs(),
		DefaultNodes: 5,
		Image:        "etcd",
		DataDirs:     []string{"data"},
		New: func(c control.Cluster, cfg TargetConfig) (targets.DB, error) {
			o, err := etcd.FromOptions(cfg.Options, cfg.Dir, cfg.OpTimeout)
			if err != nil {
				return nil, err
			}
			return etcd.New(c, o)
		},
		NewClient: func(db targets.DB, node string) (io.Closer, error) {
			c, err := db.(*etcd.Target).Client(node)
			if err != nil {
				return nil, err
			}
			return etcdClient{c}, nil
		},
	})
	RegisterTarget(TargetSpec{
		Name:         "postgres",
		Doc:          "PostgreSQL from the node's own packages (Debian's postgresql), one server on the first node",
		Client:       (*postgres.Client)(nil),
		Options:      postgres.OptionSpecs(),
		DefaultNodes: 1,
		Image:        "postgres",
		DataDirs:     []string{"data"},
		New: func(c control.Cluster, cfg TargetConfig) (targets.DB, error) {
			return postgres.New(c, postgres.FromOptions(cfg.Options, cfg.Dir, cfg.OpTimeout))
		},
		NewClient: func(db targets.DB, node string) (io.Closer, error) {
			c, err := db.(*postgres.Target).Client(node)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
	})
	RegisterTarget(TargetSpec{
		Name:         "redis",
		Doc:          "Redis from the node's own packages (Debian's redis-server, redis-sentinel): one server, or a primary, replicas and a sentinel on every node",
		Client:       (*redis.Client)(nil),
		Options:      redis.OptionSpecs(),
		DefaultNodes: 1,
		// No Image: the docker backend refuses it unless given one
		// (--control-opt image=REF) with redis-server installed.
		DataDirs: []string{"data"},
		New: func(c control.Cluster, cfg TargetConfig) (targets.DB, error) {
			return redis.New(c, redis.FromOptions(cfg.Options, cfg.Dir, cfg.OpTimeout))
		},
		NewClient: func(db targets.DB, node string) (io.Closer, error) {
			c, err := db.(*redis.Target).Client(node)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
	})
	RegisterTarget(TargetSpec{
		Name:         "memory",
		Doc:          "an in-process register store: no hosts, no root (for trying faultline and its checkers)",
		Client:       (*memory.Client)(nil),
		DefaultNodes: 5,
		InProcess: func(cfg SystemConfig) (System, error) {
			s := memory.New(nodeNames(cfg.Plan.Nodes))
			s.Latency = 2 * time.Millisecond
			return s, nil
		},
	})
}

// etcdClient is what the workloads get from the etcd target: the client,
// whose methods serve the register, set, counter, bank, queue, lock and
// unique-ids workloads, with etcd.Definite as its error classification.
type etcdClient struct{ *etcd.Client }

func (etcdClient) Definite(err error) bool { return etcd.Definite(err) }
