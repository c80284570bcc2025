package images

import (
	"os"
	"path/filepath"
	"strings"
)

// aptDir is where apt's configuration is read from (a variable for tests).
var aptDir = "/etc/apt"

// Mirror is the Debian mirror debootstrap fetches from: the first "deb"
// source for bookworm in /etc/apt/sources.list, then in
// /etc/apt/sources.list.d/*.list and *.sources (deb822) in name order,
// else http://deb.debian.org/debian. A host that reaches Debian only
// through its own mirror or proxy thus builds the image through it too.
func Mirror() string {
	if m := findMirror(aptDir, baseSuite); m != "" {
		return m
	}
	return defaultMirror
}

func findMirror(dir, suite string) string {
	if b, err := os.ReadFile(filepath.Join(dir, "sources.list")); err == nil {
		if m := mirrorFromList(string(b), suite); m != "" {
			return m
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "sources.list.d", "*"))
	for _, f := range files { // Glob sorts
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var m string
		switch {
		case strings.HasSuffix(f, ".list"):
			m = mirrorFromList(string(b), suite)
		case strings.HasSuffix(f, ".sources"):
			m = mirrorFromDeb822(string(b), suite)
		}
		if m != "" {
			return m
		}
	}
	return ""
}

// usableMirror reports whether debootstrap can fetch from uri.
func usableMirror(uri string) bool {
	return strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://") || strings.HasPrefix(uri, "file:/")
}

// mirrorFromList reads one-line-style sources:
// deb [options] uri suite component…
func mirrorFromList(text, suite string) string {
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // [arch=amd64 signed-by=…]
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) >= 2 && f[1] == suite && usableMirror(f[0]) {
			return strings.TrimSuffix(f[0], "/")
		}
	}
	return ""
}

// mirrorFromDeb822 reads deb822-style sources: stanzas of Types, URIs,
// Suites (and Enabled) separated by blank lines.
func mirrorFromDeb822(text, suite string) string {
	for _, stanza := range splitStanzas(text) {
		if strings.EqualFold(stanza["enabled"], "no") || !hasField(stanza["types"], "deb") || !hasField(stanza["suites"], suite) {
			continue
		}
		for _, uri := range strings.Fields(stanza["uris"]) {
			if usableMirror(uri) {
				return strings.TrimSuffix(uri, "/")
			}
		}
	}
	return ""
}

func hasField(list, want string) bool {
	for _, f := range strings.Fields(list) {
		if f == want {
			return true
		}
	}
	return false
}

// splitStanzas parses deb822 text into stanzas of lower-cased field names;
// continuation lines (starting with a space) extend the previous field.
func splitStanzas(text string) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, last = map[string]string{}, ""
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			cur[last] += " " + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.ToLower(strings.TrimSpace(k))
		cur[last] = strings.TrimSpace(v)
	}
	flush()
	return out
}
