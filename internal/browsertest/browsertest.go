// Package browsertest drives a headless Chromium over the DevTools protocol
// for tests of the HTML that faultline writes: enough of it to open a page,
// collect console errors, uncaught exceptions and network requests, ask the
// DOM questions and take screenshots.
//
// A test calls Need for the browser binary (it skips without one, and fails
// under CI=true, where a browser test that does not run must not pass),
// Start for a browser, NewPage for a tab, then Open, Eval, Screenshot and
// Report on that tab:
//
//	bin := browsertest.Need(t)
//	b, err := browsertest.Start(ctx, bin)
//	...
//	defer b.Kill()
//	p, err := b.NewPage(ctx)
//	...
//	err = p.Open(ctx, "file://"+path, time.Second)
//	rep := p.Report() // rep.Errors, rep.OutsideRequests()
//
// gorilla/websocket is already in the module graph (etcd uses it); a full
// CDP library (chromedp) would add a large dependency for these few calls.
package browsertest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Find returns the browser binary: $FAULTLINE_CHROMIUM, or the first of
// Chromium's usual names on PATH; "" when there is none.
func Find() string {
	if p := os.Getenv("FAULTLINE_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Need returns the browser binary. Without one it skips the test, saying
// how to get one, except in CI (env CI=true), where it fails the test
// instead: a browser test that does not run must not pass there.
func Need(t testing.TB) string {
	t.Helper()
	p := Find()
	if p != "" {
		return p
	}
	msg := "headless Chromium not found (install Debian's chromium package: apt-get install -y chromium, or set FAULTLINE_CHROMIUM)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true, so this test must run")
	}
	t.Skip(msg)
	return ""
}

// ArtifactsDir is where a test keeps its screenshots: under
// $FAULTLINE_ARTIFACTS, in a directory named after the test's package
// directory relative to the module root (go test runs a package's tests in
// its directory), e.g. $FAULTLINE_ARTIFACTS/reports or
// $FAULTLINE_ARTIFACTS/cmd/faultline; without $FAULTLINE_ARTIFACTS, a
// temporary directory of the test.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	root := os.Getenv("FAULTLINE_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	d := filepath.Join(root, packageDir())
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// packageDir is the working directory relative to the nearest directory
// above it with a go.mod, or its last element when there is none.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "unknown"
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if rel, err := filepath.Rel(d, wd); err == nil && rel != "." {
				return rel
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return filepath.Base(wd)
}

type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
}

type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Browser is one Chromium process and a DevTools connection to it. Kill it
// when done.
type Browser struct {
	cmd     *exec.Cmd
	conn    *websocket.Conn
	profile string
	// singleton is the browser's directory for its singleton socket.
	singleton string
	done      chan struct{} // closed when the reader stops

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpMsg
	tabs    map[string]*Tab // by DevTools session
	wmu     sync.Mutex
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// Start runs bin (from Need) headless, with a fresh profile and a
// 1280×900 window, and connects to it.
func Start(ctx context.Context, bin string) (*Browser, error) {
	profile, err := os.MkdirTemp("", "faultline-chromium-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--remote-debugging-port=0", "--user-data-dir="+profile, "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--disable-background-networking", "--window-size=1280,900", "about:blank")
	// A group of its own, so that Kill ends its helpers (renderer, GPU,
	// zygote) too: killed alone, the browser leaves them writing into the
	// profile and /tmp for a while after.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(profile)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	b := &Browser{cmd: cmd, profile: profile, pending: map[int]chan cdpMsg{}, tabs: map[string]*Tab{}, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() { // owned by the browser process: ends when its stderr closes
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				urlc <- m[1]
				sent = true
			}
		}
		if !sent {
			close(urlc)
		}
	}()
	var wsURL string
	select {
	case u, ok := <-urlc:
		if !ok {
			b.Kill()
			return nil, errors.New("chromium exited before it listened for DevTools")
		}
		wsURL = u
	case <-ctx.Done():
		b.Kill()
		return nil, fmt.Errorf("chromium did not start: %w", ctx.Err())
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1 << 20, WriteBufferSize: 1 << 16}
	conn, _, err := d.DialContext(ctx, wsURL, nil)
	if err != nil {
		b.Kill()
		return nil, fmt.Errorf("connect to DevTools: %w", err)
	}
	conn.SetReadLimit(512 << 20) // full-page screenshots are big
	b.conn = conn
	// The browser keeps its singleton socket in a directory of its own
	// under $TMPDIR, named from the profile; Kill removes it too.
	if target, err := os.Readlink(filepath.Join(profile, "SingletonSocket")); err == nil {
		if dir := filepath.Dir(target); strings.HasPrefix(filepath.Base(dir), "org.chromium.") {
			b.singleton = dir
		}
	}
	go b.read()
	return b, nil
}

func (b *Browser) read() {
	defer close(b.done)
	for {
		_, data, err := b.conn.ReadMessage()
		if err != nil {
			b.mu.Lock()
			for id, c := range b.pending {
				close(c)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m cdpMsg
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if c, ok := b.pending[m.ID]; ok {
				c <- m
				delete(b.pending, m.ID)
			}
		} else if p := b.tabs[m.SessionID]; p != nil {
			p.event(m)
		}
		b.mu.Unlock()
	}
}

// call sends a command (to a page when session is set) and decodes its result.
func (b *Browser) call(ctx context.Context, session, method string, params any, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	c := make(chan cdpMsg, 1)
	b.pending[id] = c
	b.mu.Unlock()
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	msg, _ := json.Marshal(cdpMsg{ID: id, Method: method, Params: p, SessionID: session})
	b.wmu.Lock()
	err = b.conn.WriteMessage(websocket.TextMessage, msg)
	b.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-c:
		if !ok {
			return fmt.Errorf("%s: connection closed", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Kill closes the connection, kills the browser, waits for it and removes
// its profile.
func (b *Browser) Kill() {
	if b.conn != nil {
		b.conn.Close()
		<-b.done
	}
	if b.cmd.Process != nil {
		// SIGTERM first: the browser shuts down cleanly and removes its
		// own temporary files; then SIGKILL to whatever of the group is
		// left.
		pgid := b.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { _ = b.cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
	if b.singleton != "" {
		os.RemoveAll(b.singleton)
	}
	// A helper may still be writing its last files as it goes.
	for try := 0; try < 20; try++ {
		if os.RemoveAll(b.profile) == nil {
			if _, err := os.Stat(b.profile); os.IsNotExist(err) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PageReport is what a tab saw since it was made.
type PageReport struct {
	// Errors are console errors and failed assertions ("console.error:
	// ..."), uncaught exceptions ("exception: ...") and errors the browser
	// logged, such as failed loads ("log: ...").
	Errors []string
	// Requests is every URL the page asked for, in order.
	Requests []string
}

// OutsideRequests are the Requests that leave the page's own files: any
// URL that is not file:, data: or about:. A self-contained report makes
// none.
func (r PageReport) OutsideRequests() []string {
	var out []string
	for _, u := range r.Requests {
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "about:") {
			out = append(out, u)
		}
	}
	return out
}

// Tab is one page in the browser.
type Tab struct {
	b       *Browser
	session string
	mu      sync.Mutex
	rep     PageReport
	loaded  chan struct{}
}

// NewPage opens a blank tab and starts recording its errors and requests.
func (b *Browser) NewPage(ctx context.Context) (*Tab, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return nil, err
	}
	p := &Tab{b: b, session: att.SessionID, loaded: make(chan struct{}, 1)}
	b.mu.Lock()
	b.tabs[p.session] = p
	b.mu.Unlock()
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		if err := b.call(ctx, p.session, m, map[string]any{}, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Tab) event(m cdpMsg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m.Method {
	case "Page.loadEventFired":
		select {
		case p.loaded <- struct{}{}:
		default:
		}
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				URL       string `json:"url"`
				Line      int    `json:"lineNumber"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(m.Params, &e)
		d := e.ExceptionDetails
		p.rep.Errors = append(p.rep.Errors, fmt.Sprintf("exception: %s %s (line %d)", d.Text, d.Exception.Description, d.Line))
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string            `json:"type"`
			Args []json.RawMessage `json:"args"`
		}
		_ = json.Unmarshal(m.Params, &e)
		if e.Type == "error" || e.Type == "assert" {
			p.rep.Errors = append(p.rep.Errors, fmt.Sprintf("console.%s: %s", e.Type, joinRaw(e.Args)))
		}
	case "Log.entryAdded":
		var e struct {
			Entry struct {
				Level string `json:"level"`
				Text  string `json:"text"`
				URL   string `json:"url"`
			} `json:"entry"`
		}
		_ = json.Unmarshal(m.Params, &e)
		if e.Entry.Level == "error" {
			p.rep.Errors = append(p.rep.Errors, "log: "+e.Entry.Text+" "+e.Entry.URL)
		}
	case "Network.requestWillBeSent":
		var e struct {
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
		}
		_ = json.Unmarshal(m.Params, &e)
		p.rep.Requests = append(p.rep.Requests, e.Request.URL)
	}
}

func joinRaw(args []json.RawMessage) string {
	var parts []string
	for _, a := range args {
		parts = append(parts, string(a))
	}
	return strings.Join(parts, " ")
}

// Open navigates to url and waits for the load event, then for settle
// (scripts may draw after load, e.g. porcupine's pages in iframes).
func (p *Tab) Open(ctx context.Context, url string, settle time.Duration) error {
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.b.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("navigate %s: %s", url, nav.ErrorText)
	}
	select {
	case <-p.loaded:
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s to load: %w", url, ctx.Err())
	}
	time.Sleep(settle)
	return nil
}

// Eval runs a JavaScript expression in the page and decodes its
// (JSON-able) value into out.
func (p *Tab) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := p.b.call(ctx, p.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("evaluating %q: %s", expr, r.ExceptionDetails.Text)
	}
	return json.Unmarshal(r.Result.Value, out)
}

// Screenshot writes a PNG of the page's region at x, y of size w×h (CSS
// pixels) to path; when h is 0, of the whole page (w and h are then the
// page's content size).
func (p *Tab) Screenshot(ctx context.Context, path string, x, y, w, h float64) error {
	if h == 0 {
		var m struct {
			CSSContentSize struct {
				Width  float64 `json:"width"`
				Height float64 `json:"height"`
			} `json:"cssContentSize"`
		}
		if err := p.b.call(ctx, p.session, "Page.getLayoutMetrics", map[string]any{}, &m); err != nil {
			return err
		}
		w, h = m.CSSContentSize.Width, m.CSSContentSize.Height
	}
	var shot struct {
		Data string `json:"data"`
	}
	err := p.b.call(ctx, p.session, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": x, "y": y, "width": w, "height": h, "scale": 1},
	}, &shot)
	if err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// ScreenshotElement writes a PNG of the first element matching the CSS
// selector to path; it fails when there is none or it is not shown.
func (p *Tab) ScreenshotElement(ctx context.Context, path, selector string) error {
	var r struct{ X, Y, W, H float64 }
	expr := fmt.Sprintf(`(function(){var e=document.querySelector(%q); if(!e) return null; var b=e.getBoundingClientRect(); return {X:b.left+scrollX, Y:b.top+scrollY, W:b.width, H:b.height};})()`, selector)
	if err := p.Eval(ctx, expr, &r); err != nil {
		return err
	}
	if r.W == 0 || r.H == 0 {
		return fmt.Errorf("%s: no such element, or it is not shown", selector)
	}
	return p.Screenshot(ctx, path, r.X, r.Y, r.W, r.H)
}

// Report returns a copy of what the tab has seen so far.
func (p *Tab) Report() PageReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PageReport{Errors: append([]string(nil), p.rep.Errors...), Requests: append([]string(nil), p.rep.Requests...)}
}

// OpenPage starts a browser, killed when the test ends, opens url in a new
// tab and lets it settle: the common start of a one-page browser test.
func OpenPage(ctx context.Context, t testing.TB, bin, url string, settle time.Duration) *Tab {
	t.Helper()
	b, err := Start(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Kill)
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Open(ctx, url, settle); err != nil {
		t.Fatal(err)
	}
	return p
}
