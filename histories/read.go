package histories

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Format is a history file format.
type Format string

const (
	FormatJSONL     Format = "jsonl"      // faultline's history.jsonl
	FormatEDN       Format = "edn"        // Jepsen/Knossos history.edn
	FormatJepsenLog Format = "jepsen-log" // jepsen.util log lines
)

// historyNames are the files looked for, in order, when a directory is given.
var historyNames = []string{"history.jsonl", "history.edn", "jepsen.log", "history.txt", "history.jsonl.gz", "history.edn.gz"}

// Resolve turns a path into a history file: a file is itself; a directory
// must hold one of history.jsonl, history.edn, jepsen.log, history.txt or
// a gzip-compressed history.jsonl.gz or history.edn.gz.
func Resolve(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return path, nil
	}
	for _, n := range historyNames {
		p := filepath.Join(path, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no history in this directory (looked for %s)", path, strings.Join(historyNames, ", "))
}

// ReadFile reads a history from a file or a directory holding one, detecting
// its format. A gzip-compressed file (history.jsonl.gz, history.edn.gz, or
// any name: it is known by its magic bytes) is decompressed as it is read,
// and its format is detected from the name without ".gz" and from the
// decompressed content.
func ReadFile(path string) (History, error) {
	p, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	name := p
	compressed := false
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		compressed = true
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(gzipReader{zr}, 1<<16)
		name = strings.TrimSuffix(p, ".gz")
	}
	head, _ := br.Peek(4096)
	format, err := Detect(name, head)
	if err != nil {
		return nil, err
	}
	if format == FormatJSONL && !compressed {
		// A plain file: its size says how many ops to make room for.
		var size int64
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		return readJSONLStream(br, p, size)
	}
	return Read(br, p, format)
}

// Read reads a history in the given format. file names the source in errors.
func Read(r io.Reader, file string, format Format) (History, error) {
	switch format {
	case FormatJSONL:
		return ReadJSONL(r, file)
	case FormatEDN:
		return ReadEDN(r, file)
	case FormatJepsenLog:
		return ReadJepsenLog(r, file)
	}
	return nil, fmt.Errorf("unknown history format %q", format)
}

// Detect picks a format from the file name and, failing that, from the first
// non-blank line of the content: JSON is faultline's JSONL; a bracket, a
// comment or a tag EDN; a jepsen.util line, an op line or any logger's line
// (a real jepsen.log begins with jepsen.core's) a Jepsen log.
func Detect(file string, head []byte) (Format, error) {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".jsonl", ".json":
		return FormatJSONL, nil
	case ".edn":
		return FormatEDN, nil
	}
	for _, line := range bytes.Split(head, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		switch {
		case bytes.HasPrefix(line, []byte(`{"`)):
			return FormatJSONL, nil
		case line[0] == '{' || line[0] == '[' || line[0] == '(' || line[0] == ';' || line[0] == '#':
			return FormatEDN, nil
		case bytes.Contains(line, []byte("jepsen.util")) || bytes.Contains(line, []byte(":invoke")) ||
			bytes.Contains(line, []byte(":info")) || bytes.Contains(line, []byte(":ok")) || bytes.Contains(line, []byte(":fail")),
			isLoggerLine(line):
			return FormatJepsenLog, nil
		}
		return "", errAt(file, 0, "cannot tell the history format: the first line is neither JSON (faultline), EDN (Jepsen history.edn) nor a line of a Jepsen log")
	}
	// An empty file is an empty history; JSONL reads it as such.
	return FormatJSONL, nil
}

// gzipReader says what an unexpected end of a compressed stream means.
type gzipReader struct{ r io.Reader }

func (g gzipReader) Read(b []byte) (int, error) {
	n, err := g.r.Read(b)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("gzip stream ends early (truncated file?): %w", err)
	}
	return n, err
}

// ParseValue reads one value written as JSON or as EDN, normalised as the
// readers normalise values: {"x": 0} and Knossos' {:x 0 :y 0} both read as
// map[string]any{"x": 0, ...}. It is how faultline check reads a map given
// on the command line (--initial of a multi-register).
func ParseValue(s string) (any, error) {
	if json.Valid([]byte(s)) {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		return normalizeJSON(v)
	}
	var d ednDecoder
	v, err := d.decode([]byte(s))
	if err == errNoValue {
		return nil, errors.New("no value")
	}
	if err != nil {
		return nil, fmt.Errorf("neither JSON nor EDN: %w", err)
	}
	return normalizeEDN(v)
}
