package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/faultline-dev/faultline/images/imagestest"
)

func TestImageBuildUnknown(t *testing.T) {
	code, out, errOut := faultline(t, "", "image", "build", "etcd", "bogus")
	if code != 3 || out != "" || !strings.Contains(errOut, `unknown image "bogus"`) || !strings.Contains(errOut, "etcd, postgres") {
		t.Errorf("image build bogus: exit %d, out %q, err %q; want 3 naming etcd, postgres and nothing built", code, out, errOut)
	}
}

// 'image build etcd' builds faultline/etcd:<hash of bin> (or finds it) and
// prints its reference; a second build finds it; 'image list' shows it. An
// image this test built is removed at the end (unless in use).
func TestImageBuildEtcd(t *testing.T) {
	cli := imagestest.Require(t)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	ref := "faultline/etcd:" + hex.EncodeToString(sum[:])[:16]

	code, out, errOut := faultline(t, "", "image", "build", "etcd")
	if code != 0 || !regexp.MustCompile(`^`+regexp.QuoteMeta(ref)+` (built|already present) in \S+ \(\d+ MB\)\n$`).MatchString(out) {
		t.Fatalf("image build etcd: exit %d, out %q, err %q; want %s", code, out, errOut, ref)
	}
	if strings.Contains(out, " built ") {
		if !strings.Contains(errOut, "etcd: building "+ref) {
			t.Errorf("no progress on stderr: %q", errOut)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// Not forced: a container of another test may use it.
			if _, err := cli.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil {
				t.Logf("leaving %s: %v", ref, err)
			}
		})
	}
	code, out, errOut = faultline(t, "", "image", "build", "etcd")
	if code != 0 || !strings.HasPrefix(out, ref+" already present in ") {
		t.Errorf("second image build etcd: exit %d, out %q, err %q; want already present", code, out, errOut)
	}
	code, out, errOut = faultline(t, "", "image", "list")
	if code != 0 || !strings.HasPrefix(out, "REFERENCE") || !strings.Contains(out, ref+" ") {
		t.Errorf("image list: exit %d, out %q, err %q; want %s listed", code, out, errOut, ref)
	}
}
