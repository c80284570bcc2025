package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/images"
)

func init() {
	cmd := &cobra.Command{
		Use:   "image",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
		Short: "Build and list the container images of the Docker backend",
		Long: `The Docker backend runs nodes in containers of images that faultline builds
locally in the Docker engine (DOCKER_HOST honoured); no image is ever pulled
or pushed, so no registry is needed:

  faultline/etcd:<binary hash>      FROM scratch plus faultline's static binary
                                    at /faultline (which runs etcd members too)
  faultline/postgres:<binary hash>  faultline/debian-postgresql plus /faultline
  faultline/debian-postgresql:<recipe hash>
                                    Debian 12 from debootstrap (minbase) with
                                    PostgreSQL 15, util-linux, procps, iproute2

Images are reused by content: a build finds an image with the same tag and
recipe label (io.faultline.recipe) and skips it. The base is built once per
recipe, which needs root, debootstrap and a Debian mirror (the host's apt
sources, else deb.debian.org) and takes a minute or more; the others take
seconds. The runs build what they lack themselves: 'image build' does it
ahead of time.`,
	}
	build := &cobra.Command{
		Use:   "build [NAME...]",
		Short: "Build faultline's images (all of them without names) unless they are present",
		Long: `Build the named images (etcd, postgres; all without names) unless the engine
has them already, printing each image's reference, whether it was built or
already present, and the time taken. Progress goes to stderr. Images are
built locally and never pulled. faultline must be a static binary
(CGO_ENABLED=0), as it is copied into the images.`,
		Example: `  faultline image build
  sudo faultline image build postgres`,
		ValidArgs: images.Names(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = images.Names()
			}
			var names []string
			seen := map[string]bool{}
			for _, name := range args {
				if _, err := images.Ref(name); err != nil {
					return withCode(exitError, err)
				}
				if !seen[name] {
					seen[name] = true
					names = append(names, name)
				}
			}
			return buildImages(cmd.OutOrStdout(), cmd.ErrOrStderr(), names)
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List faultline's images in the Docker engine",
		Long: `List the images in the Docker engine that faultline built (those labelled
io.faultline.image), with their size and when they were made.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return listImages(cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(build, list)
	rootCmd.AddCommand(cmd)
}

func buildImages(out, progress io.Writer, names []string) error {
	ctx, cancel := signalContext(time.Hour)
	defer cancel()
	cli, err := images.NewClient()
	if err != nil {
		return withCode(exitError, err)
	}
	defer cli.Close()
	for _, name := range names {
		start := time.Now()
		r, err := images.EnsureResult(ctx, cli, name, progress)
		if err != nil {
			return withCode(exitError, fmt.Errorf("image %s: %w", name, err))
		}
		what := "already present"
		if r.Built {
			what = "built"
		}
		fmt.Fprintf(out, "%s %s in %s (%s)\n", r.Ref, what, time.Since(start).Round(100*time.Millisecond), humanize.Bytes(uint64(r.Size)))
	}
	return nil
}

func listImages(out io.Writer) error {
	ctx, cancel := signalContext(time.Minute)
	defer cancel()
	cli, err := images.NewClient()
	if err != nil {
		return withCode(exitError, err)
	}
	defer cli.Close()
	list, err := images.List(ctx, cli)
	if err != nil {
		return withCode(exitError, err)
	}
	if len(list) == 0 {
		fmt.Fprintln(out, "no faultline images in the engine (build them with 'faultline image build')")
		return nil
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REFERENCE\tSIZE\tCREATED")
	for _, i := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s (%s)\n", i.Ref, humanize.Bytes(uint64(i.Size)), i.Created.Local().Format("2006-01-02 15:04:05"), humanize.Time(i.Created))
	}
	return tw.Flush()
}
