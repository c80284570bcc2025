// Package service is how a target tests a system that was installed and
// running before faultline came (a staging cluster run by systemd, say):
// faultline finds its processes, kills them and starts them again through
// whatever manages them, and collects its logs, but never installs, wipes,
// stops or reconfigures it beyond the faults it injects.
//
// A target that supports existing clusters adds Options to its own and
// builds a Service from them. The service is found by its systemd unit
// (service=etcd: kill is SIGKILL to the unit's processes, then `systemctl
// start`; the processes are those of the unit's control group, or its
// MainPID's tree where the group cannot be read); by a substring of
// its command line plus a command that starts it (process=… start=…;
// {node} and {addr} in the command are the node's name and address); or,
// on a cluster of containers a user runs (control/docker's attach mode),
// as the container itself (service=container, the default there: kill and
// start through the engine, the processes are the container's, the logs
// its output).
package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/options"
)

// Options are the options of a target that can test an existing cluster.
func Options() []options.Spec {
	return []options.Spec{
		{Name: "existing", Doc: "the system is already installed and running on the nodes: faultline never installs, wipes, stops or reconfigures it beyond the faults it injects", Default: "false", Check: options.CheckBool},
		{Name: "service", Doc: "existing: the systemd unit that runs it (kill = SIGKILL to the unit, then systemctl start), or container (containers of --control docker: kill and start through the engine)"},
		{Name: "process", Doc: "existing, without systemd: a substring of the service's command line that finds its processes"},
		{Name: "start", Doc: "existing, with process: a shell command that starts the service on a node and returns ({node} and {addr} are replaced)"},
		{Name: "logs", Doc: "existing: comma-separated log files on the nodes to collect, journald (the unit's journal) or container (the container's output)"},
	}
}

// Service is a system that runs on the nodes outside faultline's
// management.
type Service struct {
	// Unit is the systemd unit, or Pattern and Start find and start it.
	Unit, Pattern, Start string
	// Logs are files on the nodes, or "journald".
	Logs []string
	// Since is when the test began (the journal is collected from then).
	Since time.Time
}

// FromOptions builds the Service the options describe, or nil when
// existing is off.
func FromOptions(v options.Values) (*Service, error) {
	if !v.Bool("existing") {
		for _, k := range []string{"service", "process", "start", "logs"} {
			if v.Get(k) != "" {
				return nil, fmt.Errorf("option %s is for an existing cluster: add existing=true", k)
			}
		}
		return nil, nil
	}
	s := &Service{Unit: v.Get("service"), Pattern: v.Get("process"), Start: v.Get("start"), Since: time.Now()}
	for l := range strings.SplitSeq(v.Get("logs"), ",") {
		if l = strings.TrimSpace(l); l != "" {
			s.Logs = append(s.Logs, l)
		}
	}
	switch {
	case s.Unit == Container && len(s.Logs) == 0:
		s.Logs = []string{Container}
	}
	switch {
	case s.Unit != "" && (s.Pattern != "" || s.Start != ""):
		return nil, errors.New("existing cluster: give service (a systemd unit) or process and start, not both")
	case s.Unit == "" && (s.Pattern == "" || s.Start == ""):
		return nil, errors.New("existing cluster: say how it is managed: service=UNIT (systemd), or process=PATTERN and start=COMMAND")
	case slices.Contains(s.Logs, "journald") && (s.Unit == "" || s.Unit == Container):
		return nil, errors.New("existing cluster: logs=journald needs service=UNIT")
	case slices.Contains(s.Logs, Container) && s.Unit != Container:
		return nil, errors.New("existing cluster: logs=container needs service=container")
	}
	return s, nil
}

// Container is the service of an existing cluster of containers: the
// container itself.
const Container = "container"

// engine is the cluster's container engine, when s is a container.
func (s *Service) engine(c control.Cluster) (control.Containers, error) {
	e, ok := c.(control.Containers)
	if !ok {
		return nil, fmt.Errorf("service=container: the %s backend's nodes are not containers (use --control docker)", c.Backend())
	}
	return e, nil
}

// String says how the service is managed, for logs.
func (s *Service) String() string {
	if s.Unit == Container {
		return "the container"
	}
	if s.Unit != "" {
		return "systemd unit " + s.Unit
	}
	return fmt.Sprintf("processes matching %q (started by %q)", s.Pattern, s.Start)
}

// Pids lists the roots of the service's process trees on node (none: it
// is not running).
func (s *Service) Pids(ctx context.Context, c control.Cluster, node string) ([]int, error) {
	if s.Unit == Container {
		e, err := s.engine(c)
		if err != nil {
			return nil, err
		}
		pid, err := e.ContainerPid(ctx, node)
		if err != nil || pid == 0 {
			return nil, err
		}
		return []int{pid}, nil
	}
	if s.Unit != "" {
		return s.unitPids(ctx, c, node)
	}
	cmd := control.AgentCmd(c, node, "ps", "--pattern", s.Pattern)
	cmd.Stderr = new(bytes.Buffer)
	out, err := c.Exec(ctx, node, cmd)
	if err != nil {
		return nil, fmt.Errorf("finding %q on %s: %w", s.Pattern, node, err)
	}
	var ps []struct {
		Pid  int `json:"pid"`
		PPid int `json:"ppid"`
	}
	if err := json.Unmarshal(out, &ps); err != nil {
		return nil, fmt.Errorf("finding %q on %s: %w", s.Pattern, node, err)
	}
	in := map[int]bool{}
	for _, p := range ps {
		in[p.Pid] = true
	}
	var roots []int
	for _, p := range ps {
		if !in[p.PPid] {
			roots = append(roots, p.Pid)
		}
	}
	return roots, nil
}

// unitPids lists the processes of the systemd unit on node: every process
// of its control group (a unit's processes need not all descend from its
// main process: ExecStartPre leftovers, forking daemons, helpers), or its
// MainPID where the group cannot be read; none when it is not running.
func (s *Service) unitPids(ctx context.Context, c control.Cluster, node string) ([]int, error) {
	out, err := c.Exec(ctx, node, control.Cmd{Path: "systemctl", Args: []string{"show", "--property", "MainPID", "--property", "ControlGroup", s.Unit}})
	if err != nil {
		return nil, fmt.Errorf("finding %s on %s: %w", s.Unit, node, err)
	}
	main, cgroup, err := parseUnitShow(out)
	if err != nil {
		return nil, fmt.Errorf("finding %s on %s: %w", s.Unit, node, err)
	}
	if main == 0 && cgroup == "" {
		return nil, nil
	}
	if cgroup != "" {
		// The unified hierarchy (cgroup v2), then systemd's own (v1).
		for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"} {
			b, err := c.ReadFile(ctx, node, root+cgroup+"/cgroup.procs")
			if err != nil {
				continue
			}
			pids, err := parsePids(b)
			if err != nil {
				return nil, fmt.Errorf("finding %s on %s: %s%s/cgroup.procs: %w", s.Unit, node, root, cgroup, err)
			}
			return pids, nil
		}
	}
	if main == 0 {
		return nil, nil
	}
	return []int{main}, nil
}

// parseUnitShow reads `systemctl show --property MainPID --property
// ControlGroup`'s KEY=VALUE lines.
func parseUnitShow(out []byte) (main int, cgroup string, err error) {
	for line := range strings.SplitSeq(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "MainPID":
			if main, err = strconv.Atoi(v); err != nil {
				return 0, "", fmt.Errorf("systemctl printed MainPID=%q", v)
			}
		case "ControlGroup":
			cgroup = v
		}
	}
	return main, cgroup, nil
}

// parsePids reads a cgroup.procs file: one pid a line.
func parsePids(b []byte) ([]int, error) {
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("not a pid: %q", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Kill SIGKILLs the service on node (the unit's processes, or the trees
// of the processes that match) and waits until they have gone.
func (s *Service) Kill(ctx context.Context, c control.Cluster, node string) error {
	if s.Unit == Container {
		e, err := s.engine(c)
		if err != nil {
			return err
		}
		return e.KillContainer(ctx, node)
	}
	pids, err := s.Pids(ctx, c, node)
	if err != nil || len(pids) == 0 {
		return err
	}
	if s.Unit != "" {
		if _, err := c.Exec(ctx, node, control.Cmd{Path: "systemctl", Args: []string{"kill", "--signal=KILL", s.Unit}}); err != nil {
			return fmt.Errorf("killing %s on %s: %w", s.Unit, node, err)
		}
	} else {
		for _, p := range pids {
			_, err := c.Exec(ctx, node, control.AgentCmd(c, node, "signal", "--sig", "KILL", "--pid", strconv.Itoa(p), "--group"))
			var ee *control.ExitError
			if err != nil && !(errors.As(err, &ee) && ee.Status.Code == 3) {
				return fmt.Errorf("killing pid %d on %s: %w", p, node, err)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		now, err := s.Pids(ctx, c, node)
		if err != nil {
			return err
		}
		gone := true
		for _, p := range now {
			gone = gone && !slices.Contains(pids, p)
		}
		if gone {
			return nil // (a manager that restarts it at once gives new pids)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("killing %s on %s: still running 10 s after SIGKILL (pids %v)", s, node, now)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StartCommand is argv that starts the service on node (run by node's
// agent).
func (s *Service) StartCommand(c control.Cluster, node string) []string {
	if s.Unit == Container {
		if e, err := s.engine(c); err == nil {
			return e.EngineCommand(node, "start")
		}
		return nil
	}
	if s.Unit != "" {
		return []string{"systemctl", "start", s.Unit}
	}
	addr := ""
	if n, err := control.FindNode(c, node); err == nil {
		addr = n.Addr.String()
	}
	cmd := strings.NewReplacer("{node}", node, "{addr}", addr).Replace(s.Start)
	return []string{"/bin/sh", "-c", cmd}
}

// StartOn starts the service on node through its manager, unless it runs.
func (s *Service) StartOn(ctx context.Context, c control.Cluster, node string) error {
	if pids, err := s.Pids(ctx, c, node); err == nil && len(pids) > 0 {
		return nil
	}
	if s.Unit == Container {
		e, err := s.engine(c)
		if err != nil {
			return err
		}
		return e.StartContainer(ctx, node)
	}
	if _, err := control.FindNode(c, node); err != nil {
		return err
	}
	argv := s.StartCommand(c, node)
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := c.Exec(sctx, node, control.Cmd{Path: argv[0], Args: argv[1:]}); err != nil {
		return fmt.Errorf("starting %s on %s: %w", s, node, err)
	}
	return nil
}

// CollectLogs writes node's logs into dir: the files, downloaded, or the
// unit's journal since the test began.
func (s *Service) CollectLogs(ctx context.Context, c control.Cluster, node, dir string) error {
	var errs []error
	for _, l := range s.Logs {
		if l == Container {
			e, err := s.engine(c)
			if err == nil {
				err = control.DownloadVia(filepath.Join(dir, "container.log"), func(w io.Writer) error { return e.Logs(ctx, node, s.Since, w) })
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("output of %s's container: %w", node, err))
			}
			continue
		}
		if l == "journald" {
			since := "@" + strconv.FormatInt(s.Since.Add(-time.Minute).Unix(), 10)
			err := control.DownloadVia(filepath.Join(dir, s.Unit+".journal.log"), func(w io.Writer) error {
				_, err := c.Exec(ctx, node, control.Cmd{Path: "journalctl", Args: []string{"--unit", s.Unit, "--since", since, "--no-pager", "--output", "short-iso-precise"}, Stdout: w, Stderr: new(bytes.Buffer)})
				return err
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("journal of %s on %s: %w", s.Unit, node, err))
			}
			continue
		}
		if err := c.Download(ctx, node, l, filepath.Join(dir, filepath.Base(l))); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
