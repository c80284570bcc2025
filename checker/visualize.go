package checker

import (
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/anishathalye/porcupine"
	"github.com/faultline-dev/faultline/histories"
)

// Linearization keeps porcupine's account of the keys that have no
// linearization, to draw its HTML visualization of each: the history of
// the key and the longest partial linearizations porcupine found.
//
// Times in the visualization (and in annotations given to it) are history
// indexes: an op spans its invocation's index to its completion's.
type Linearization struct {
	model string
	keys  []*failedKey
}

// Model is the name of the model the history was checked against.
func (l *Linearization) Model() string {
	if l == nil {
		return ""
	}
	return l.model
}

// Keys are the failing keys, in order.
func (l *Linearization) Keys() []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l.keys))
	for i, k := range l.keys {
		out[i] = k.key
	}
	return out
}

// WriteVisualization writes porcupine's visualization of one failing key,
// a self-contained HTML page, to w.
func (l *Linearization) WriteVisualization(w io.Writer, key string, annotations []porcupine.Annotation) error {
	if l != nil {
		for _, k := range l.keys {
			if k.key == key {
				info := k.info // AddAnnotations appends to a copy, not to what we keep
				info.AddAnnotations(annotations)
				return porcupine.Visualize(k.model, info, w)
			}
		}
	}
	return fmt.Errorf("key %q has no failed linearization to visualize", key)
}

// WriteVisualizations writes one HTML file per failing key into the
// run's directory dir, in its folder VisualizationDir (created if needed;
// pages of keys that no longer fail are removed), and returns the paths
// written. File names are safe for any key: see VisualizationFile.
func (l *Linearization) WriteVisualizations(dir string, annotations []porcupine.Annotation) ([]string, error) {
	if l == nil || len(l.keys) == 0 {
		return nil, nil
	}
	folder := filepath.Join(dir, VisualizationDir)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return nil, fmt.Errorf("writing linearizability visualizations: %w", err)
	}
	var paths []string
	keep := map[string]bool{}
	for _, k := range l.keys {
		p := filepath.Join(dir, filepath.FromSlash(VisualizationFile(k.key)))
		keep[filepath.Base(p)] = true
		f, err := os.Create(p)
		if err != nil {
			return paths, fmt.Errorf("writing the visualization of key %q: %w", k.key, err)
		}
		err = l.WriteVisualization(f, k.key, annotations)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("writing the visualization of key %q to %s: %w", k.key, p, err)
		}
		paths = append(paths, p)
	}
	// A directory checked again (check --out) keeps no page of a key that
	// passes now.
	if entries, err := os.ReadDir(folder); err == nil {
		for _, e := range entries {
			n := e.Name()
			if !e.IsDir() && !keep[n] && (n == noKeyFile || strings.HasPrefix(n, "key-") && strings.HasSuffix(n, ".html")) {
				_ = os.Remove(filepath.Join(folder, n))
			}
		}
	}
	return paths, nil
}

// VisualizationDir is the folder of a run's directory that holds
// porcupine's page of each failing key, so that the run's own files stay
// few and readable.
const VisualizationDir = "linearizability"

const noKeyFile = "history.html"

// VisualizationFile is where a key's visualization is, relative to the
// run's directory, with slashes (a relative link as it is):
// linearizability/key-KEY.html, with KEY kept to letters, digits, '.', '_'
// and '-' and at most 64 bytes; a key that had to be changed gets a hash
// of itself appended, so that two keys never share a file.
// linearizability/history.html is the history with no keys.
func VisualizationFile(key string) string {
	if key == "" {
		return VisualizationDir + "/" + noKeyFile
	}
	return VisualizationDir + "/key-" + safeKey(key) + ".html"
}

// LegacyVisualizationFile is where runs made before VisualizationDir kept
// a key's visualization: beside history.jsonl.
func LegacyVisualizationFile(key string) string {
	if key == "" {
		return "linearizability.html"
	}
	return "linearizability-key-" + safeKey(key) + ".html"
}

func safeKey(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	safe := b.String()
	if len(safe) > 64 {
		safe = safe[:64]
	}
	if safe != key {
		h := fnv.New32a()
		h.Write([]byte(key))
		safe = fmt.Sprintf("%s-%08x", safe, h.Sum32())
	}
	return safe
}

// NemesisAnnotations turns the nemesis ops of a history into porcupine
// annotations on the history-index time line: each fault from its start to
// its stop (start-X / stop-X, or the end of the history), shaded in every
// key's visualization.
func NemesisAnnotations(h histories.History) []porcupine.Annotation {
	windows, events := histories.FaultWindows(h)
	var last int64
	if len(h) > 0 {
		last = h[len(h)-1].Index
	}
	out := make([]porcupine.Annotation, 0, len(windows)+len(events))
	for _, w := range windows {
		end := w.EndIndex
		if !w.Healed {
			end = last
		}
		out = append(out, porcupine.Annotation{Tag: "nemesis", Start: w.StartIndex, End: end, Description: w.Name,
			Details: "start-" + w.Name + " " + histories.FormatValue(w.Value), BackgroundColor: "#f7d6d6"})
	}
	for _, e := range events {
		a := porcupine.Annotation{Tag: "nemesis", Start: e.Index, Description: e.F, Details: histories.FormatValue(e.Value)}
		if e.Error != "" {
			a.Details = "failed: " + e.Error
		}
		out = append(out, a)
	}
	return out
}
