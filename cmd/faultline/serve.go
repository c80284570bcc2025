package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/reports"
)

func init() {
	var store, addr string
	cmd := &cobra.Command{
		Use:   "serve [--store DIR] [--addr HOST:PORT]",
		Short: "Browse a store's runs and reports in a web browser (read-only)",
		Long: `Serve a store read-only over HTTP: at / the list of runs, newest first,
coloured by verdict, with links to each run's report and files (history,
results.json, junit.xml, node logs).

Nothing outside the store is ever served: paths with '..' (also encoded, or
double-encoded), encoded slashes and symlinks that lead out of the store get
404. It listens on the loopback address by default; give --addr to share it.`,
		Example: `  faultline serve
  faultline serve --store /var/lib/faultline/store --addr 127.0.0.1:9000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := runServe(ctx, cmd, store, addr); err != nil {
				return withCode(exitError, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&store, "store", "store", "store directory")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	rootCmd.AddCommand(cmd)
}

func runServe(ctx context.Context, cmd *cobra.Command, store, addr string) error {
	st, err := os.Stat(store)
	if err != nil {
		return fmt.Errorf("--store %s: %w (run 'faultline run' first, or point --store at one)", store, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--store %s is not a directory", store)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: reports.Handler(store), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(cmd.OutOrStdout(), "serving %s at http://%s/ (Ctrl-C to stop)\n", store, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
