package images_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/images"
	"github.com/faultline-dev/faultline/images/imagestest"
)

// bin is a static faultline built once for these tests (the test binary
// itself is dynamically linked). Its version string is unique to this run,
// so its hash, and with it the tags of the etcd and postgres images, are
// new: the tests see those images built cold, and remove them at the end.
// The debian-postgresql base image is not removed: it is the cache that
// later runs (and CI, within a run) reuse, and takes minutes to build.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faultline-images-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	bin = filepath.Join(dir, "faultline")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", fmt.Sprintf("-X main.version=imagestest-%d-%d", os.Getpid(), time.Now().UnixNano()), "./cmd/faultline")
	build.Dir = ".." // the repository's root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building a static faultline: %v\n%s", err, out)
		os.Exit(3)
	}
	control.SetBinary(bin)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestNamesAndRef(t *testing.T) {
	if got := strings.Join(images.Names(), " "); got != "etcd postgres" {
		t.Errorf("Names() = %s", got)
	}
	hash, err := control.BinaryHash()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range images.Names() {
		ref, err := images.Ref(name)
		if want := "faultline/" + name + ":" + hash[:16]; err != nil || ref != want {
			t.Errorf("Ref(%s) = %q, %v; want %q", name, ref, err, want)
		}
	}
	if _, err := images.Ref("bogus"); err == nil || !strings.Contains(err.Error(), "etcd, postgres") {
		t.Errorf("Ref(bogus): %v, want an error naming etcd, postgres", err)
	}
	if _, err := images.Ensure(context.Background(), nil, "bogus", nil); err == nil || !strings.Contains(err.Error(), `unknown image "bogus"`) {
		t.Errorf("Ensure(bogus): %v", err)
	}
}

// A dynamically linked faultline cannot go into a FROM scratch image: the
// error says so before the engine is asked anything.
func TestDynamicBinaryRefused(t *testing.T) {
	const dyn = "/bin/true"
	control.SetBinary(dyn)
	defer control.SetBinary(bin)
	if static, err := control.BinaryIsStatic(); err != nil || static {
		t.Skipf("%s is not a dynamically linked ELF here (static %v, %v)", dyn, static, err)
	}
	for _, name := range images.Names() {
		_, err := images.Ensure(context.Background(), nil, name, nil)
		if !errors.Is(err, images.ErrDynamic) || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
			t.Errorf("Ensure(%s) with a dynamic binary: %v", name, err)
		}
	}
}

// removeImage removes an image this test run made (and only that).
func removeImage(t *testing.T, cli *client.Client, ref string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("removing %s: %v", ref, err)
		}
	})
}

// run runs cmd in a container of ref without network, removes the
// container, and returns its exit code and output.
func run(t *testing.T, cli *client.Client, ref string, cmd ...string) (int64, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: cmd, Labels: map[string]string{"io.faultline.test": "images"}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatalf("creating a container of %s: %v", ref, err)
	}
	defer func() {
		if err := cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("removing container %s: %v", c.ID, err)
		}
	}()
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNextExit)
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatalf("%s %v: %v", ref, cmd, err)
	}
	var code int64
	select {
	case w := <-waitC:
		code = w.StatusCode
	case err := <-errC:
		t.Fatalf("waiting for %s %v: %v", ref, cmd, err)
	}
	logs, err := cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

// checkFaultline checks that ref holds faultline's binary at /faultline,
// byte for byte, and that it runs there.
func checkFaultline(t *testing.T, cli *client.Client, ref string) {
	t.Helper()
	ctx := context.Background()
	want, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if code, out := run(t, cli, ref, "/faultline", "version"); code != 0 || out != string(want) {
		t.Errorf("%s: /faultline version: exit %d, %q; want %q", ref, code, out, want)
	}
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: []string{"/faultline"}}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	rc, _, err := cli.CopyFromContainer(ctx, c.ID, "/faultline")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, tr); err != nil {
		t.Fatal(err)
	}
	hash, _ := control.BinaryHash()
	if got := hex.EncodeToString(sum.Sum(nil)); got != hash || h.Mode&0o111 == 0 {
		t.Errorf("%s: /faultline has sha256 %s mode %o; want %s, executable", ref, got, h.Mode, hash)
	}
}

// logWriter passes progress lines to t.Log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// The etcd image is FROM scratch plus /faultline, labelled; two Ensures at
// once build it once; a later Ensure finds it.
func TestEtcdImage(t *testing.T) {
	cli := imagestest.Require(t)
	ctx := context.Background()
	ref, err := images.Ref("etcd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ImageInspect(ctx, ref); !cerrdefs.IsNotFound(err) {
		t.Fatalf("%s exists before the test built it (%v)", ref, err)
	}
	removeImage(t, cli, ref)

	start := time.Now()
	var wg sync.WaitGroup
	results := make([]images.Result, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = images.EnsureResult(ctx, cli, "etcd", logWriter{t})
		}()
	}
	wg.Wait()
	cold := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Ensure %d: %v", i, err)
		}
	}
	if results[0].Ref != ref || results[1].Ref != ref || results[0].ID != results[1].ID || results[0].Built == results[1].Built {
		t.Fatalf("two Ensures at once: %+v and %+v; want %s built once", results[0], results[1], ref)
	}
	t.Logf("cold: %s (%s, %d MB) in %s", ref, results[0].ID, results[0].Size>>20, cold)

	img, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Labels[images.LabelImage] != "etcd" || len(img.Config.Labels[images.LabelRecipe]) != 64 {
		t.Errorf("labels %v", img.Config.Labels)
	}
	if len(img.Config.Entrypoint) != 0 || len(img.Config.Cmd) != 0 || len(img.RootFS.Layers) != 1 {
		t.Errorf("entrypoint %q cmd %q layers %d; want none, none, 1 (FROM scratch)", img.Config.Entrypoint, img.Config.Cmd, len(img.RootFS.Layers))
	}
	checkFaultline(t, cli, ref)

	start = time.Now()
	again, err := images.EnsureResult(ctx, cli, "etcd", nil)
	warm := time.Since(start)
	if err != nil || again.Built || again.ID != results[0].ID || warm > 5*time.Second {
		t.Errorf("second Ensure: %+v, %v in %s; want the same image, not rebuilt, fast", again, err, warm)
	}
	t.Logf("warm: %s in %s", ref, warm)

	found := false
	list, err := images.List(ctx, cli)
	for _, i := range list {
		found = found || i.Ref == ref && i.Name == "etcd" && i.ID == again.ID
	}
	if err != nil || !found {
		t.Errorf("List: %v %+v; want %s in it", err, list, ref)
	}
}

// The postgres image: the debian-postgresql base (debootstrap, minutes on a
// cold machine; kept afterwards as the cache) plus /faultline.
func TestPostgresImage(t *testing.T) {
	cli := imagestest.Require(t)
	ctx := context.Background()
	if _, err := cli.ImageInspect(ctx, images.BaseRef()); cerrdefs.IsNotFound(err) {
		_, lookErr := exec.LookPath("debootstrap")
		if _, err := os.Stat("/usr/sbin/debootstrap"); err == nil {
			lookErr = nil
		}
		if os.Geteuid() != 0 || lookErr != nil {
			why := fmt.Sprintf("building %s needs root and debootstrap (euid %d, debootstrap: %v)", images.BaseRef(), os.Geteuid(), lookErr)
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s, and CI=true forbids skipping the test", why)
			}
			t.Skip(why)
		}
	}
	ref, err := images.Ref("postgres")
	if err != nil {
		t.Fatal(err)
	}
	removeImage(t, cli, ref)

	start := time.Now()
	r, err := images.EnsureResult(ctx, cli, "postgres", logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ref != ref || !r.Built {
		t.Fatalf("Ensure: %+v; want %s built", r, ref)
	}
	t.Logf("%s (%d MB) in %s", ref, r.Size>>20, time.Since(start))

	for _, c := range []struct {
		cmd   []string
		want  string
		exact bool
	}{
		{[]string{"/usr/lib/postgresql/15/bin/postgres", "--version"}, "postgres (PostgreSQL) 15.", false},
		{[]string{"initdb", "--version"}, "initdb (PostgreSQL) 15.", false}, // PATH has PostgreSQL's programs
		{[]string{"setpriv", "--version"}, "setpriv from util-linux", false},
		{[]string{"ps", "--version"}, "procps-ng", false},
		{[]string{"ip", "-V"}, "iproute2", false},
		{[]string{"id", "postgres"}, "(postgres)", false},
		{[]string{"ls", "/run/postgresql"}, "", true}, // the socket's directory is there
		// No default cluster, no apt lists or packages, no docs but copyright files.
		{[]string{"find", "/var/lib/postgresql", "/etc/postgresql", "/var/lib/apt/lists", "/var/cache/apt/archives", "/usr/share/man", "/usr/share/locale",
			"/usr/share/doc/postgresql-15", "-mindepth", "1", "-not", "-name", "lock", "-not", "-name", "partial", "-not", "-name", "copyright"}, "", true},
		{[]string{"cat", "/usr/share/doc/postgresql-15/copyright"}, "PostgreSQL", false},
	} {
		code, out := run(t, cli, ref, c.cmd...)
		if code != 0 || !strings.Contains(out, c.want) || c.exact && out != c.want {
			t.Errorf("%v: exit %d, %q; want %q", c.cmd, code, out, c.want)
		}
	}
	checkFaultline(t, cli, ref)

	img, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	base, err := cli.ImageInspect(ctx, images.BaseRef())
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Labels[images.LabelImage] != "postgres" || base.Config.Labels[images.LabelImage] != "debian-postgresql" ||
		len(base.Config.Labels[images.LabelRecipe]) != 64 || !strings.HasSuffix(images.BaseRef(), ":"+base.Config.Labels[images.LabelRecipe][:16]) {
		t.Errorf("labels: image %v, base %v", img.Config.Labels, base.Config.Labels)
	}
	if len(img.RootFS.Layers) != len(base.RootFS.Layers)+1 {
		t.Errorf("%s has %d layers, its base %d: want one more", ref, len(img.RootFS.Layers), len(base.RootFS.Layers))
	}

	start = time.Now()
	again, err := images.EnsureResult(ctx, cli, "postgres", nil)
	warm := time.Since(start)
	if err != nil || again.Built || again.ID != r.ID || warm > 5*time.Second {
		t.Errorf("second Ensure: %+v, %v in %s; want the same image, not rebuilt, fast", again, err, warm)
	}
	t.Logf("warm: %s in %s; base %s is %d MB and stays as the cache", ref, warm, images.BaseRef(), base.Size>>20)
}
