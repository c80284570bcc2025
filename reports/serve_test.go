package reports

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveStore copies the shared store's runs into a fresh store and plants
// what a server must not hand out: a secret beside the store, a symlink
// from the store to it (a directory and a file), and a hidden file.
func serveStore(t *testing.T) (store, secret string) {
	t.Helper()
	shared, _ := buildStore(t)
	base := t.TempDir()
	store = filepath.Join(base, "store")
	for _, test := range []string{"etcd-000", "etcd-002", "append", "partition"} {
		if err := os.CopyFS(filepath.Join(store, test), os.DirFS(filepath.Join(shared, test))); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join("partition", "20250101T000300"), filepath.Join(store, "latest")))
	outside := filepath.Join(base, "outside")
	must(os.MkdirAll(outside, 0o755))
	secret = "the secret outside the store"
	must(os.WriteFile(filepath.Join(outside, "secret.txt"), []byte(secret), 0o644))
	must(os.Symlink(outside, filepath.Join(store, "escape")))
	must(os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(store, "etcd-000", "20250101T000000", "leak.txt")))
	must(os.Symlink("../../../outside/secret.txt", filepath.Join(store, "etcd-000", "20250101T000000", "relleak.txt")))
	must(os.WriteFile(filepath.Join(store, ".hidden"), []byte(secret), 0o644))
	return store, secret
}

var traversals = []string{
	"/../outside/secret.txt",
	"/..",
	"/etcd-000/../../outside/secret.txt",
	"/latest/../../outside/secret.txt",
	"/./latest/report.html",
	"/%2e%2e/outside/secret.txt",
	"/%2E%2E/outside/secret.txt",
	"/.%2e/outside/secret.txt",
	"/%2e./outside/secret.txt",
	"/latest/%2e%2e/%2e%2e/outside/secret.txt",
	"/..%2foutside%2fsecret.txt",
	"/etcd-000%2f..%2f..%2foutside%2fsecret.txt",
	"/%2e%2e%2foutside%2fsecret.txt",
	"/%252e%252e/outside/secret.txt",
	"/%252e%252e%252foutside%252fsecret.txt",
	"/%25252e%25252e/outside/secret.txt",
	"/..%5coutside%5csecret.txt",
	"/..\\outside\\secret.txt",
	"/etcd-000/20250101T000000/..%00/x",
	"/escape/secret.txt",
	"/escape/",
	"/etcd-000/20250101T000000/leak.txt",
	"/etcd-000/20250101T000000/relleak.txt",
	"/.hidden",
	"/nope",
}

// TestServeRefusesTraversal asks the handler for every way out of the store
// we know, as raw request targets, and wants 404 without the secret.
func TestServeRefusesTraversal(t *testing.T) {
	store, secret := serveStore(t)
	h := Handler(store)
	for _, target := range traversals {
		t.Run(target, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://faultline.test/", nil)
			// Set the target as a client would send it, before any parsing
			// cleaned it.
			req.RequestURI = target
			u, err := req.URL.Parse(target)
			if err != nil {
				t.Skipf("not a URL Go's server would accept either: %v", err)
			}
			req.URL = u
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("%s: status %d, want 404", target, rec.Code)
			}
			if strings.Contains(rec.Body.String(), secret) {
				t.Fatalf("%s: leaked the secret", target)
			}
		})
	}
}

// TestServeOverTCP sends the traversals over a real connection, byte for
// byte as written (no client library to clean them on the way).
func TestServeOverTCP(t *testing.T) {
	store, secret := serveStore(t)
	srv := httptest.NewServer(Handler(store))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, target := range traversals {
		status, body := rawGet(t, addr, target)
		if status == http.StatusOK || strings.Contains(body, secret) {
			t.Errorf("%s: status %d (body has secret: %v)", target, status, strings.Contains(body, secret))
		}
		if status != http.StatusNotFound && status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 404 (or 400 from Go's server for a malformed request)", target, status)
		}
	}
	for _, ok := range []string{"/", "/latest/report.html", "/etcd-000/20250101T000000/report.html", "/etcd-000/20250101T000000/nodes/n1/etcd.log", "/etcd-000/20250101T000000/", "/append/20250101T000200/junit.xml"} {
		if status, _ := rawGet(t, addr, ok); status != http.StatusOK {
			t.Errorf("%s: status %d, want 200", ok, status)
		}
	}
}

func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeIndexAndFiles(t *testing.T) {
	store, _ := serveStore(t)
	srv := httptest.NewServer(Handler(store))
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Newest first, with verdict colours and links to each report.
	var at []int
	for _, run := range []string{"partition/20250101T000300", "append/20250101T000200", "etcd-002/20250101T000100", "etcd-000/20250101T000000"} {
		i := strings.Index(body, `href="`+run+`/report.html"`)
		if i < 0 || (len(at) > 0 && i < at[len(at)-1]) {
			t.Fatalf("runs not listed newest first: %s at %d after %v", run, i, at)
		}
		at = append(at, i)
	}
	for _, w := range []string{`<tr class="invalid">`, `<tr class="valid">`, `href="etcd-000/20250101T000000/report.html"`, `<span class="latest">latest</span>`} {
		if !strings.Contains(body, w) {
			t.Errorf("index lacks %s", w)
		}
	}
	if strings.Contains(body, "escape") {
		t.Error("the index lists a symlink that leaves the store")
	}
	resp, body = get("/latest/report.html")
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>Valid · partition / 20250101T000300") {
		t.Fatalf("latest report: %d", resp.StatusCode)
	}
	resp, body = get("/etcd-000/20250101T000000/")
	if resp.StatusCode != 200 || !strings.Contains(body, `href="report.html"`) || strings.Contains(body, ".hidden") {
		t.Fatalf("run listing: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = get("/etcd-000/20250101T000000/jepsen.log")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("a log is served as %s", ct)
	}
	// Read-only.
	r, err := http.Post(srv.URL+"/latest/report.html", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", r.StatusCode)
	}
	// A directory without its slash is redirected to it (relative links).
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err = c.Get(srv.URL + "/etcd-000/20250101T000000")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "20250101T000000/" {
		t.Errorf("directory redirect: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

// The index says why a run is unknown (interrupted, setup failed), with
// the run's own count of operations.
func TestServeIndexSaysWhyUnknown(t *testing.T) {
	store := t.TempDir()
	write := func(run, js string) {
		d := filepath.Join(store, run)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "results.json"), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etcd-register/20250101T000000", `{"valid":"unknown","checkers":{"run":{"valid":"unknown"},"linearizable":{"valid":"true"}},"run":{"ops":1234,"interrupted":true,"duration_seconds":3}}`)
	write("etcd-register/20250101T000100", `{"valid":"unknown","checkers":{"setup":{"valid":"unknown"}},"run":{"ops":0}}`)
	write("etcd-register/20250101T000200", `{"valid":false,"checkers":{},"run":{"ops":5}}`) // an old file's boolean
	srv := httptest.NewServer(Handler(store))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, w := range []string{"unknown (interrupted)</span></td><td></td><td>1234</td>", "unknown (setup failed)", `<tr class="invalid">`} {
		if !strings.Contains(body, w) {
			t.Errorf("index lacks %q:\n%s", w, body)
		}
	}
}
