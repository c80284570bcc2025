package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"

	"github.com/faultline-dev/faultline/control"
)

// ErrDynamic is returned when faultline's binary cannot go into an image.
var ErrDynamic = errors.New("faultline's binary is dynamically linked; build it with CGO_ENABLED=0 to put it in an image")

// staticBinary returns the hash of faultline's binary, or ErrDynamic.
func staticBinary() (hash string, err error) {
	static, err := control.BinaryIsStatic()
	if err != nil {
		return "", err
	}
	if !static {
		path, _ := control.BinaryPath()
		return "", fmt.Errorf("%s: %w", path, ErrDynamic)
	}
	return control.BinaryHash()
}

// ensureWithBinary ensures the image name: from (an image already in the
// engine, or scratch) plus faultline's binary (of sha256 hash) at
// /faultline, tagged with the binary's hash.
func ensureWithBinary(ctx context.Context, cli *client.Client, name, from, hash string, p *progress) (Result, error) {
	ref := Repository + name + ":" + hash[:16]
	dockerfile := "FROM " + from + "\nCOPY faultline /faultline\n"
	recipe := hashOf("faultline image " + name + " recipe " + recipeVersion + "\n" + dockerfile + "binary sha256 " + hash + "\n")
	return ensureLocked(ctx, cli, name, ref, recipe, p, func() error {
		start := time.Now()
		p.printf("building %s (%s + /faultline)", ref, from)
		buildCtx, err := contextTar(dockerfile, hash)
		if err != nil {
			return err
		}
		resp, err := cli.ImageBuild(ctx, bytes.NewReader(buildCtx), build.ImageBuildOptions{
			Tags:        []string{ref},
			Dockerfile:  "Dockerfile",
			Labels:      map[string]string{LabelImage: name, LabelRecipe: recipe},
			PullParent:  false, // FROM is scratch or an image built here: never pulled
			Remove:      true,
			ForceRemove: true,
			NetworkMode: "none",
			Version:     build.BuilderV1, // the engine's own builder: no BuildKit session needed
		})
		if err != nil {
			return fmt.Errorf("building %s: %w", ref, err)
		}
		defer resp.Body.Close()
		if err := readStream(resp.Body, p); err != nil {
			return fmt.Errorf("building %s: %w", ref, err)
		}
		p.printf("built %s in %s", ref, since(start))
		return nil
	})
}

// contextTar is the build context in memory: the Dockerfile and faultline's
// binary, whose bytes must still hash to hash (the tag names it).
func contextTar(dockerfile, hash string) ([]byte, error) {
	path, err := control.BinaryPath()
	if err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading faultline's binary: %w", err)
	}
	if sum := sha256.Sum256(bin); hex.EncodeToString(sum[:]) != hash {
		return nil, fmt.Errorf("%s changed since faultline hashed it: run faultline again", path)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	files := []struct {
		name string
		mode int64
		body []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"faultline", 0o755, bin}}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// message is one line of the engine's JSON progress stream (build, import).
type message struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readStream reads a JSON progress stream to its end, passing its lines to
// p, and returns the error it reports.
func readStream(r io.Reader, p *progress) error {
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the engine's answer: %w", err)
		}
		if m.Error != "" || m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			if m.Error == "" {
				m.Error = m.ErrorDetail.Message
			}
			return errors.New(strings.TrimSpace(m.Error))
		}
		for _, line := range strings.Split(strings.TrimSpace(m.Stream+m.Status), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				p.printf("  %s", line)
			}
		}
	}
}
