package reports

import (
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/checker"
)

// Handler serves a store read-only: at / the list of runs, newest first,
// coloured by verdict; below it every file and directory of the store (each
// run's report.html, results.json, history, node logs).
//
// It never serves a path outside the store. Requests are refused with 404
// before any file is touched when their path has a ".." or "." segment, a
// hidden (dot) name, a backslash, or an encoded slash, backslash, NUL or
// percent sign (double encoding); what remains is opened through an
// os.Root, which follows a symlink only when it stays inside the store
// (store/latest does), so a link pointing out is a 404 too.
func Handler(store string) http.Handler {
	return &storeHandler{store: store}
}

type storeHandler struct {
	store string
}

func (s *storeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "read-only: GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}
	rel, ok := confinedPath(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	root, err := os.OpenRoot(s.store)
	if err != nil {
		http.Error(w, "the store "+s.store+" cannot be opened: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer root.Close()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if rel == "" {
		s.serveIndex(w, r, root)
		return
	}
	f, err := root.Open(rel)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if st.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			// Relative links in a listing need the slash. The Location is
			// relative too, so the handler works under any prefix.
			w.Header().Set("Location", pathEscape(path.Base(r.URL.Path))+"/")
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		serveDir(w, rel, f)
		return
	}
	if !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	if ct := contentType(rel); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	http.ServeContent(w, r, st.Name(), st.ModTime(), f)
}

// confinedPath checks the request's path and returns it relative to the
// store ("" for the index); ok is false for anything that could leave the
// store or reach a hidden file.
func confinedPath(r *http.Request) (string, bool) {
	// Judge what the client sent, before any cleaning: the request line's
	// path when it is in origin form, else the URL's escaped path.
	raw := r.URL.EscapedPath()
	if strings.HasPrefix(r.RequestURI, "/") {
		raw = r.RequestURI
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			raw = raw[:i]
		}
	}
	lower := strings.ToLower(raw)
	for _, bad := range []string{"%2f", "%5c", "%00", "%25", "\\", "\x00"} {
		if strings.Contains(lower, bad) {
			return "", false
		}
	}
	for _, seg := range strings.Split(lower, "/") {
		if seg == "." || seg == ".." {
			return "", false
		}
	}
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	var segs []string
	for _, seg := range strings.Split(p[1:], "/") {
		switch {
		case seg == "":
			continue
		case strings.HasPrefix(seg, "."): // ".", "..", and hidden files
			return "", false
		case strings.ContainsAny(seg, "\\\x00"):
			return "", false
		}
		segs = append(segs, seg)
	}
	return strings.Join(segs, "/"), true
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".json":
		return "application/json"
	case ".xml":
		return "application/xml"
	case ".jsonl", ".log", ".txt", ".edn", ".out", ".err", "":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "text/plain; charset=utf-8"
}

// runInfo is a run as the index lists it.
type runInfo struct {
	Test, Stamp, Href string
	When              time.Time
	WhenText          string
	Verdict           string // valid, invalid, unknown, none
	VerdictText       string
	Anomalies         string
	Ops, Duration     string
	HasReport         bool
	Latest            bool
}

// findRuns lists the runs in the store: directories holding results.json
// or a history, one level (check --out DIR) or two (<test>/<time>) down.
func findRuns(root *os.Root) []runInfo {
	var runs []runInfo
	latest := ""
	if target, err := readLinkIn(root, "latest"); err == nil {
		latest = target
	}
	tops, err := readDirIn(root, ".")
	if err != nil {
		return nil
	}
	for _, top := range tops {
		if strings.HasPrefix(top.Name(), ".") || top.Name() == "latest" || !isDirIn(root, top.Name()) {
			continue
		}
		if r, ok := readRun(root, top.Name()); ok {
			runs = append(runs, r)
			continue
		}
		subs, err := readDirIn(root, top.Name())
		if err != nil {
			continue
		}
		for _, sub := range subs {
			rel := top.Name() + "/" + sub.Name()
			if strings.HasPrefix(sub.Name(), ".") || !isDirIn(root, rel) {
				continue
			}
			if r, ok := readRun(root, rel); ok {
				r.Latest = rel == latest
				runs = append(runs, r)
			}
		}
	}
	slices.SortStableFunc(runs, func(a, b runInfo) int {
		if c := b.When.Compare(a.When); c != 0 {
			return c
		}
		return strings.Compare(a.Href, b.Href)
	})
	return runs
}

func readDirIn(root *os.Root, name string) ([]fs.DirEntry, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}

func isDirIn(root *os.Root, name string) bool {
	st, err := root.Stat(name)
	return err == nil && st.IsDir()
}

// readLinkIn is the store-relative, cleaned target of a symlink in the
// store's top level.
func readLinkIn(root *os.Root, name string) (string, error) {
	t, err := os.Readlink(root.Name() + "/" + name)
	if err != nil {
		return "", err
	}
	t = path.Clean(strings.ReplaceAll(t, "\\", "/"))
	if path.IsAbs(t) || strings.HasPrefix(t, "..") {
		return "", errors.New("outside the store")
	}
	return t, nil
}

func readRun(root *os.Root, rel string) (runInfo, bool) {
	r := runInfo{Href: hrefOf(rel) + "/", Verdict: "none", VerdictText: "no results"}
	has := func(n string) bool { _, err := root.Stat(rel + "/" + n); return err == nil }
	hasResults := has("results.json")
	if !hasResults && !has("history.jsonl") && !has("history.edn") && !has("jepsen.log") {
		return r, false
	}
	r.HasReport = has(HTMLFile)
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		r.Test, r.Stamp = rel[:i], rel[i+1:]
	} else {
		r.Test = rel
	}
	if t, err := time.ParseInLocation("20060102T150405", strings.SplitN(r.Stamp, "-", 2)[0], time.Local); err == nil {
		r.When = t
	} else if st, err := root.Stat(rel); err == nil {
		r.When = st.ModTime()
	}
	r.WhenText = r.When.Format("2006-01-02 15:04:05")
	if hasResults {
		if f, err := root.Open(rel + "/results.json"); err == nil {
			var res struct {
				Valid        checker.Validity `json:"valid"`
				AnomalyTypes []string         `json:"anomaly_types"`
				Run          map[string]any   `json:"run"`
				Checkers     map[string]any   `json:"checkers"`
			}
			if json.NewDecoder(io.LimitReader(f, 64<<20)).Decode(&res) == nil {
				r.Verdict = res.Valid.String()
				r.VerdictText = res.Valid.String()
				// Why a run is unknown, when the run itself says.
				switch _, setup := res.Checkers["setup"]; {
				case res.Run["interrupted"] == true:
					r.VerdictText += " (interrupted)"
				case setup:
					r.VerdictText += " (setup failed)"
				case res.Checkers["run"] != nil:
					r.VerdictText += " (run failed)"
				}
				r.Anomalies = strings.Join(res.AnomalyTypes, ", ")
				if n, ok := num(res.Run["ops"]); ok {
					r.Ops = trimFloat(n, 0)
				}
				if d, ok := num(res.Run["duration_seconds"]); ok {
					r.Duration = fmtSeconds(d)
				}
			} else {
				r.VerdictText = "unreadable results"
			}
			f.Close()
		}
	} else {
		r.VerdictText = "running, or no check yet"
	}
	return r, true
}

var indexTemplate = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>faultline · runs</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%23111827'/%3E%3C/svg%3E">
<style>
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, "DejaVu Sans", sans-serif; color: #1f2937; background: #f8fafc; }
.wrap { max-width: 1040px; margin: 0 auto; padding: 0 20px; }
header { background: #111827; color: #fff; padding: 18px 0; }
h1 { margin: 0; font-size: 24px; }
header p { margin: 2px 0 0; opacity: .8; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #e5e7eb; margin: 18px 0; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid #e5e7eb; }
th { background: #f9fafb; }
tr.valid td:first-child { border-left: 5px solid #166534; }
tr.invalid td:first-child { border-left: 5px solid #b42318; }
tr.unknown td:first-child { border-left: 5px solid #a16207; }
tr.none td:first-child { border-left: 5px solid #9ca3af; }
.pill { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; background: #9ca3af; }
.pill.valid { background: #166534; } .pill.invalid { background: #b42318; } .pill.unknown { background: #a16207; }
.latest { font-size: 11px; border: 1px solid #93c5fd; color: #1d4ed8; border-radius: 4px; padding: 0 5px; margin-left: 6px; }
.muted { color: #6b7280; }
a { color: #1d4ed8; }
</style></head>
<body><header><div class="wrap"><h1>faultline runs</h1><p>{{.Store}} · {{len .Runs}} runs, newest first</p></div></header>
<main class="wrap">
{{- if .Runs}}
<table><thead><tr><th>when</th><th>test</th><th>verdict</th><th>anomalies</th><th>ops</th><th>duration</th><th></th></tr></thead><tbody>
{{- range .Runs}}
<tr class="{{.Verdict}}"><td>{{.WhenText}}{{if .Latest}}<span class="latest">latest</span>{{end}}</td><td>{{.Test}}</td>
<td><span class="pill {{.Verdict}}">{{.VerdictText}}</span></td><td>{{.Anomalies}}</td><td>{{.Ops}}</td><td>{{.Duration}}</td>
<td>{{if .HasReport}}<a href="{{.Href}}report.html">report</a> · {{end}}<a href="{{.Href}}">files</a></td></tr>
{{- end}}
</tbody></table>
{{- else}}
<p class="muted">No runs in this store yet: <code>faultline run</code> writes them here.</p>
{{- end}}
</main></body></html>
`))

func (s *storeHandler) serveIndex(w http.ResponseWriter, r *http.Request, root *os.Root) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	_ = indexTemplate.Execute(w, struct {
		Store string
		Runs  []runInfo
	}{s.store, findRuns(root)})
}

var dirTemplate = template.Must(template.New("dir").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Path}} · faultline</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%23111827'/%3E%3C/svg%3E">
<style>body { font: 15px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, Arial, "DejaVu Sans", sans-serif; max-width: 900px; margin: 24px auto; padding: 0 20px; color: #1f2937; }
a { color: #1d4ed8; } .muted { color: #6b7280; } li { list-style: none; } .report { font-size: 18px; font-weight: 600; }</style></head>
<body><p><a href="{{.Up}}">↑ up</a> · <a href="{{.Home}}">all runs</a></p><h1>{{.Path}}</h1>
{{- if .HasReport}}<p class="report"><a href="report.html">Open the report →</a></p>{{end}}
<ul>{{range .Entries}}<li><a href="{{.Href}}">{{.Name}}</a> <span class="muted">{{.Size}}</span></li>{{end}}</ul></body></html>
`))

func serveDir(w http.ResponseWriter, rel string, f *os.File) {
	entries, err := f.ReadDir(-1)
	if err != nil {
		http.Error(w, "cannot list "+rel, http.StatusInternalServerError)
		return
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	type entry struct{ Name, Href, Size string }
	var list []entry
	hasReport := false
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		if n == HTMLFile {
			hasReport = true
		}
		en := entry{Name: n, Href: pathEscape(n)}
		if e.IsDir() || e.Type()&fs.ModeSymlink != 0 {
			en.Name += "/"
			en.Href += "/"
		} else if info, err := e.Info(); err == nil {
			en.Size = fmtBytes(info.Size())
		}
		list = append(list, en)
	}
	depth := strings.Count(rel, "/") + 1
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = dirTemplate.Execute(w, struct {
		Path, Up, Home string
		HasReport      bool
		Entries        []entry
	}{rel + "/", "../", strings.Repeat("../", depth), hasReport, list})
}
