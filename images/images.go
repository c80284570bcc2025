package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/faultline-dev/faultline/control"
)

// Labels on every image this package makes.
const (
	// LabelImage names the image: "etcd", "postgres" or "debian-postgresql".
	LabelImage = "io.faultline.image"
	// LabelRecipe is the hex SHA-256 of everything that went into the
	// image; an image whose label differs is not reused.
	LabelRecipe = "io.faultline.recipe"
)

// Repository is the repository prefix of faultline's images. Nothing under
// it is ever pushed or pulled.
const Repository = "faultline/"

// recipeVersion is part of every recipe hash: bump it whenever the way an
// image is made changes (a step, a file, a label), so that images made the
// old way are not reused.
const recipeVersion = "1"

// Names of the images faultline builds, in build order: "etcd",
// "postgres". (The postgres image's base, debian-postgresql, is built on
// the way and is no name of its own.)
func Names() []string { return []string{"etcd", "postgres"} }

// Result says what Ensure found or built.
type Result struct {
	Ref   string // e.g. faultline/etcd:0123456789abcdef
	ID    string // the engine's image ID (sha256:…)
	Built bool   // false when the image was already there
	Size  int64  // bytes, as the engine counts them
}

// Ensure returns the reference of the named image, building whatever is
// missing (the base image too), with progress lines to progress (may be
// nil). It never pulls.
func Ensure(ctx context.Context, cli *client.Client, name string, progress io.Writer) (string, error) {
	r, err := EnsureResult(ctx, cli, name, progress)
	return r.Ref, err
}

// EnsureResult is Ensure that also says whether it built the image.
func EnsureResult(ctx context.Context, cli *client.Client, name string, progress io.Writer) (Result, error) {
	p := newProgress(progress, name)
	if name != "etcd" && name != "postgres" {
		return Result{}, unknown(name)
	}
	// Before anything is built: a base image is no use without a binary
	// that can go on it.
	hash, err := staticBinary()
	if err != nil {
		return Result{}, err
	}
	if name == "etcd" {
		return ensureWithBinary(ctx, cli, name, "scratch", hash, p)
	}
	base, err := ensureBase(ctx, cli, p)
	if err != nil {
		return Result{}, err
	}
	r, err := ensureWithBinary(ctx, cli, name, base.Ref, hash, p)
	r.Built = r.Built || base.Built
	return r, err
}

// Ref is the reference the named image would have, without building it
// or asking the engine.
func Ref(name string) (string, error) {
	switch name {
	case "etcd", "postgres":
		hash, err := control.BinaryHash()
		if err != nil {
			return "", err
		}
		return Repository + name + ":" + hash[:16], nil
	}
	return "", unknown(name)
}

func unknown(name string) error {
	return fmt.Errorf("unknown image %q: faultline builds %s", name, strings.Join(Names(), ", "))
}

// NewClient returns a client of the local Docker engine (DOCKER_HOST,
// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH honoured) that negotiates the API
// version down to the engine's, after checking that the engine answers.
func NewClient() (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w (check DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		host := cli.DaemonHost()
		cli.Close()
		how := "start it (e.g. systemctl start docker)"
		if os.Getenv("DOCKER_HOST") != "" {
			how += " or fix DOCKER_HOST"
		} else {
			how += ", or set DOCKER_HOST to where it listens"
		}
		if strings.Contains(err.Error(), "permission denied") {
			how = "run as root or as a member of the docker group"
		}
		return nil, fmt.Errorf("no Docker engine reachable at %s: %v: %s", host, err, how)
	}
	return cli, nil
}

// Info describes one image of faultline's found in the engine.
type Info struct {
	Name    string // its io.faultline.image label
	Ref     string // its first tag, or its ID if untagged
	ID      string
	Size    int64
	Created time.Time
}

// List returns faultline's images in the engine (those labelled
// io.faultline.image), by name and newest first.
func List(ctx context.Context, cli *client.Client) ([]Info, error) {
	sums, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelImage))})
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	var out []Info
	for _, s := range sums {
		refs := []string{}
		for _, t := range s.RepoTags {
			if t != "<none>:<none>" {
				refs = append(refs, t)
			}
		}
		if len(refs) == 0 {
			refs = append(refs, shortID(s.ID))
		}
		for _, r := range refs {
			out = append(out, Info{Name: s.Labels[LabelImage], Ref: r, ID: s.ID, Size: s.Size, Created: time.Unix(s.Created, 0)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Created.After(out[j].Created)
	})
	return out, nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// present looks ref up in the engine: ok when it exists and was made from
// recipe.
func present(ctx context.Context, cli *client.Client, ref, recipe string) (Result, bool, error) {
	img, err := cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	if img.Config == nil || img.Config.Labels[LabelRecipe] != recipe {
		return Result{}, false, nil
	}
	return Result{Ref: ref, ID: img.ID, Size: img.Size}, true, nil
}

// ensureLocked returns the image ref made from recipe, calling build under
// the image's host lock when it is missing. Whoever holds the lock builds;
// whoever waited for it finds the image there.
func ensureLocked(ctx context.Context, cli *client.Client, name, ref, recipe string, p *progress, build func() error) (Result, error) {
	if r, ok, err := present(ctx, cli, ref, recipe); err != nil || ok {
		return r, err
	}
	unlock, err := lock(ctx, name, p)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	if r, ok, err := present(ctx, cli, ref, recipe); err != nil || ok {
		return r, err
	}
	if err := build(); err != nil {
		return Result{}, err
	}
	r, ok, err := present(ctx, cli, ref, recipe)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, errors.New("the engine built " + ref + " but it is not there with its recipe label")
	}
	r.Built = true
	return r, nil
}
