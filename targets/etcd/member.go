package etcd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// MemberCommand is the subcommand of the faultline binary that runs
// MemberMain.
const MemberCommand = "etcd-member"

// MemberMain runs one etcd member until SIGTERM or SIGINT, then stops it
// cleanly and returns nil. args are etcd's own flag names (a subset):
//
//	--name n1 --data-dir DIR
//	--listen-client-urls URLS --advertise-client-urls URLS
//	--listen-peer-urls URLS --initial-advertise-peer-urls URLS
//	--initial-cluster n1=http://…:2380,… --initial-cluster-state new|existing
//	--initial-cluster-token TOKEN
//	--heartbeat-interval MS --election-timeout MS --snapshot-count N
//	--log-file PATH (default: stderr) --log-level debug|info|warn|error
func MemberMain(args []string) error {
	return memberMain(context.Background(), args, os.Stderr)
}

func memberMain(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := memberConfig(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcd member %s: starting: %w", cfg.Name, err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintf(stderr, "faultline etcd-member %s: ready, serving clients on %s\n", cfg.Name, urlList(cfg.ListenClientUrls))
	case err := <-e.Err():
		return fmt.Errorf("etcd member %s: %w", cfg.Name, err)
	case <-e.Server.StopNotify():
		return fmt.Errorf("etcd member %s: stopped before it was ready", cfg.Name)
	case <-ctx.Done():
		fmt.Fprintf(stderr, "faultline etcd-member %s: signalled before ready, stopping\n", cfg.Name)
		return nil
	}
	select {
	case <-ctx.Done():
		fmt.Fprintf(stderr, "faultline etcd-member %s: signalled, stopping\n", cfg.Name)
		return nil // the deferred Close stops the server and its listeners
	case err := <-e.Err():
		return fmt.Errorf("etcd member %s: %w", cfg.Name, err)
	case <-e.Server.StopNotify():
		return fmt.Errorf("etcd member %s: server stopped by itself (see the log above)", cfg.Name)
	}
}

// memberConfig turns MemberMain's flags into an embed.Config.
func memberConfig(args []string, stderr io.Writer) (*embed.Config, error) {
	cfg := embed.NewConfig()
	fs := flag.NewFlagSet(MemberCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listenClient, advertiseClient, listenPeer, advertisePeer string
		logFile                                                  string
	)
	fs.StringVar(&cfg.Name, "name", "", "member name (the node's name)")
	fs.StringVar(&cfg.Dir, "data-dir", "", "data directory")
	fs.StringVar(&listenClient, "listen-client-urls", "", "URLs to serve clients on, comma-separated")
	fs.StringVar(&advertiseClient, "advertise-client-urls", "", "client URLs to tell the cluster (default: listen-client-urls)")
	fs.StringVar(&listenPeer, "listen-peer-urls", "", "URLs to serve peers on, comma-separated")
	fs.StringVar(&advertisePeer, "initial-advertise-peer-urls", "", "peer URLs to tell the cluster (default: listen-peer-urls)")
	fs.StringVar(&cfg.InitialCluster, "initial-cluster", "", "name=peerURL,… of every member")
	fs.StringVar(&cfg.ClusterState, "initial-cluster-state", embed.ClusterStateFlagNew, "new or existing")
	fs.StringVar(&cfg.InitialClusterToken, "initial-cluster-token", "faultline", "cluster token")
	fs.UintVar(&cfg.TickMs, "heartbeat-interval", cfg.TickMs, "heartbeat interval, ms")
	fs.UintVar(&cfg.ElectionMs, "election-timeout", cfg.ElectionMs, "election timeout, ms")
	fs.Uint64Var(&cfg.SnapshotCount, "snapshot-count", cfg.SnapshotCount, "committed entries between snapshots")
	fs.StringVar(&logFile, "log-file", "", "log file (default: stderr)")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%s: %w", MemberCommand, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected arguments %q", MemberCommand, fs.Args())
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"name", cfg.Name}, {"data-dir", cfg.Dir}, {"listen-client-urls", listenClient}, {"listen-peer-urls", listenPeer}} {
		if f.v == "" {
			missing = append(missing, "--"+f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing %s", MemberCommand, strings.Join(missing, ", "))
	}
	if advertiseClient == "" {
		advertiseClient = listenClient
	}
	if advertisePeer == "" {
		advertisePeer = listenPeer
	}
	var err error
	for _, u := range []struct {
		flag string
		s    string
		dst  *[]url.URL
	}{
		{"listen-client-urls", listenClient, &cfg.ListenClientUrls},
		{"advertise-client-urls", advertiseClient, &cfg.AdvertiseClientUrls},
		{"listen-peer-urls", listenPeer, &cfg.ListenPeerUrls},
		{"initial-advertise-peer-urls", advertisePeer, &cfg.AdvertisePeerUrls},
	} {
		if *u.dst, err = parseURLs(u.s); err != nil {
			return nil, fmt.Errorf("%s: --%s: %w", MemberCommand, u.flag, err)
		}
	}
	if cfg.InitialCluster == "" {
		cfg.InitialCluster = cfg.Name + "=" + advertisePeer
	}
	if logFile != "" {
		cfg.LogOutputs = []string{logFile}
	} else {
		cfg.LogOutputs = []string{embed.StdErrLogOutput}
	}
	// No metrics listener and no v2 gateway: a member is reachable only on
	// the URLs the target gave it.
	cfg.ListenMetricsUrls = nil
	cfg.Metrics = "basic"
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", MemberCommand, err)
	}
	return cfg, nil
}

func parseURLs(s string) ([]url.URL, error) {
	var out []url.URL
	for _, part := range strings.Split(s, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("%q: want http://host:port", part)
		}
		out = append(out, *u)
	}
	if len(out) == 0 {
		return nil, errors.New("no URL")
	}
	return out, nil
}

func urlList(us []url.URL) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = u.String()
	}
	return strings.Join(s, ",")
}

// stopTimeout bounds how long MemberMain's caller should wait after SIGTERM
// before SIGKILL: the server's graceful stop (leadership transfer) takes up
// to an election timeout or two.
const stopTimeout = 10 * time.Second
