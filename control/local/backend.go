package local

import (
	"context"
	"errors"
	"fmt"

	"github.com/faultline-dev/faultline/control"
)

// BackendName is the local backend's name in control's registry.
const BackendName = "local"

func init() {
	control.Register(control.Backend{
		HostDirs: true,
		Name:     BackendName,
		Doc:      "network namespaces on this host joined by a bridge (needs root); the default",
		DefaultNodes: func(n int) []control.NodeSpec {
			var out []control.NodeSpec
			for _, name := range NodeNames(n) {
				out = append(out, control.NodeSpec{Name: name})
			}
			return out
		},
		New: func(ctx context.Context, cfg control.Config) (control.Cluster, error) {
			var names []string
			for _, n := range cfg.Nodes {
				if n.Host != "" || n.Port != 0 || n.User != "" || n.Addr != "" {
					return nil, fmt.Errorf("node %s: the local backend makes its nodes itself and takes only their names (host, port, user and addr are for --control ssh)", n.Name)
				}
				names = append(names, n.Name)
			}
			c, err := New(ctx, Options{Nodes: names, RunID: cfg.RunID, Detached: cfg.Detached, StoreDir: cfg.StoreDir})
			if err != nil {
				return nil, err
			}
			if cfg.Logf != nil {
				cfg.Logf("local cluster %s: subnet %s, controller at %s", c.RunID(), c.Subnet(), c.HostAddr())
			}
			return c, nil
		},
		Attach: func(ctx context.Context, ref control.Ref, cfg control.Config) (control.Cluster, error) {
			c, err := Attach(ref.RunID)
			if errors.Is(err, errNoCluster) {
				return nil, fmt.Errorf("%w: %w", control.ErrGone, err)
			}
			if err != nil {
				return nil, err
			}
			dirs := map[string]string{}
			for _, n := range ref.Nodes {
				dirs[n.Name] = n.Dir
			}
			c.SetNodeDirs(dirs)
			return c, nil
		},
		Sweep: func(ctx context.Context, opts control.SweepOptions) (control.SweepReport, error) {
			rep, err := Cleanup(ctx, CleanupOptions{Detached: opts.Detached})
			var out control.SweepReport
			for _, p := range rep.Processes {
				out.Removed = append(out.Removed, fmt.Sprintf("killed process %d in %s: %s", p.Pid, p.Namespace, p.Cmdline))
			}
			for _, n := range rep.Namespaces {
				out.Removed = append(out.Removed, "deleted namespace "+n)
			}
			for _, l := range rep.Links {
				out.Removed = append(out.Removed, "deleted link "+l)
			}
			for _, f := range rep.LockFiles {
				out.Removed = append(out.Removed, "removed "+f)
			}
			for _, d := range rep.Dirs {
				out.Removed = append(out.Removed, "removed "+d+" (node data of the run)")
			}
			for _, s := range rep.Skipped {
				what := "in use by pid"
				if s.Detached {
					what = "a detached cluster (faultline cluster down removes it), made by pid"
				}
				out.Skipped = append(out.Skipped, fmt.Sprintf("left run %s alone: %s %d", s.RunID, what, s.Pid))
			}
			return out, err
		},
	})
}
