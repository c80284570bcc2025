package images

import (
	"archive/tar"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindMirror(t *testing.T) {
	write := func(dir, name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"none", nil, ""},
		{"sources.list", map[string]string{
			"sources.list": "# deb http://commented.example/debian bookworm main\n" +
				"deb-src http://src.example/debian bookworm main\n" +
				"deb http://other.example/debian bullseye main\n" +
				"deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib\n",
		}, "http://mirror.example/debian"},
		{"sources.list first", map[string]string{
			"sources.list":             "deb http://list.example/debian bookworm main\n",
			"sources.list.d/a.sources": "Types: deb\nURIs: http://d.example/debian\nSuites: bookworm\nComponents: main\n",
		}, "http://list.example/debian"},
		{"deb822 like Debian 12's", map[string]string{
			"sources.list.d/debian.sources": "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
				"Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n",
		}, "http://deb.debian.org/debian"},
		{"deb822 disabled, src and other suites skipped", map[string]string{
			"sources.list.d/a.sources": "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n" +
				"Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n" +
				"Types: deb\nURIs: https://nodesource.example/node\nSuites: nodistro\n\n" +
				"Types: deb deb-src\nURIs: cdrom:[Debian]/\n  https://on.example/debian/\nSuites: bookworm\n",
		}, "https://on.example/debian"},
		{"disabled files ignored", map[string]string{
			"sources.list.d/x.list.disabled": "deb http://x.example/debian bookworm main\n",
		}, ""},
	}
	for _, c := range cases {
		dir := t.TempDir()
		for name, text := range c.files {
			write(dir, name, text)
		}
		if got := findMirror(dir, "bookworm"); got != c.want {
			t.Errorf("%s: mirror %q, want %q", c.name, got, c.want)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/a\040b`: "/tmp/a b",
		`/plain`:      "/plain",
		`/odd\04`:     `/odd\04`,
		`/tab\011x`:   "/tab\tx",
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// The import tar keeps modes, owners, symlinks and hard links, keeps /dev,
// /proc and /sys empty and leaves sockets out.
func TestWriteRootfsTar(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"etc", "dev/pts", "proc/1", "sys/x", "run"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	must(os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "etc/secret"), []byte("s"), 0o600))
	must(os.WriteFile(filepath.Join(root, "dev/null"), nil, 0o666))
	must(os.Link(filepath.Join(root, "etc/passwd"), filepath.Join(root, "etc/passwd.link")))
	must(os.Symlink("passwd", filepath.Join(root, "etc/pw")))
	if os.Geteuid() == 0 {
		must(os.Chown(filepath.Join(root, "etc/secret"), 101, 102))
	}
	l, err := net.Listen("unix", filepath.Join(root, "run/sock"))
	must(err)
	defer l.Close()

	var buf bytes.Buffer
	must(writeRootfsTar(&buf, root))
	got := map[string]*tar.Header{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		got[h.Name] = h
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			if int64(len(b)) != h.Size {
				t.Errorf("%s: %d bytes, header says %d", h.Name, len(b), h.Size)
			}
		}
	}
	for _, name := range []string{"etc/", "dev/", "proc/", "sys/", "run/", "etc/passwd", "etc/secret", "etc/pw", "etc/passwd.link"} {
		if got[name] == nil {
			t.Errorf("%s missing from the tar", name)
		}
	}
	for name := range got {
		if strings.HasPrefix(name, "dev/") && name != "dev/" || strings.HasPrefix(name, "proc/") && name != "proc/" ||
			strings.HasPrefix(name, "sys/") && name != "sys/" || name == "run/sock" {
			t.Errorf("%s is in the tar", name)
		}
	}
	if h := got["etc/pw"]; h != nil && (h.Typeflag != tar.TypeSymlink || h.Linkname != "passwd") {
		t.Errorf("etc/pw: type %c link %q", h.Typeflag, h.Linkname)
	}
	if h := got["etc/passwd.link"]; h != nil && (h.Typeflag != tar.TypeLink || h.Linkname != "etc/passwd") {
		t.Errorf("etc/passwd.link: type %c link %q, want a hard link to etc/passwd", h.Typeflag, h.Linkname)
	}
	if h := got["etc/secret"]; h != nil {
		if h.Mode&0o777 != 0o600 || h.Uname != "" {
			t.Errorf("etc/secret: mode %o uname %q", h.Mode, h.Uname)
		}
		if os.Geteuid() == 0 && (h.Uid != 101 || h.Gid != 102) {
			t.Errorf("etc/secret: owner %d:%d, want 101:102", h.Uid, h.Gid)
		}
	}
}

// The base image's tag follows its recipe: a change of package list or of
// trimmed paths names another image, so an old one is never reused.
func TestBaseRecipe(t *testing.T) {
	ref := BaseRef()
	if !strings.HasPrefix(ref, "faultline/debian-postgresql:") || len(ref) != len("faultline/debian-postgresql:")+16 || BaseRef() != ref {
		t.Fatalf("BaseRef %q", ref)
	}
	pkgs, trim := basePackages, trimPaths
	defer func() { basePackages, trimPaths = pkgs, trim }()
	basePackages = append(pkgs[:len(pkgs):len(pkgs)], "less")
	if BaseRef() == ref {
		t.Error("another package list, the same tag")
	}
	basePackages, trimPaths = pkgs, trim[:1]
	if BaseRef() == ref {
		t.Error("other trimmed paths, the same tag")
	}
}
