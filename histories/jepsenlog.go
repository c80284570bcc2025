package histories

import (
	"bytes"
	"errors"
	"io"
	"strconv"
)

// ReadJepsenLog reads the op lines of a Jepsen log (jepsen.log), which
// jepsen.util writes as PROCESS TYPE F VALUE separated by tabs, or spaces in
// some old logs, after the logger's prefix:
//
//	INFO  jepsen.util - 3	:invoke	:cas	[1 4]
//	2021-02-26 23:39:01,300{GMT}	INFO	[jepsen worker 1] jepsen.util: 1	:ok	:write	[0 2]
//	3	:info	:cas	[1 4]	:timed-out
//
// PROCESS is an integer or :nemesis, TYPE one of :invoke, :ok, :fail and
// :info, F a keyword, VALUE an EDN value; newer Jepsens append the op's
// error after a tab. Lines may also start directly with the process, as in
// Jepsen's history.txt.
//
// Other lines are skipped: other loggers (a real jepsen.log begins with
// jepsen.core's "Command line:" and the test's options over many lines),
// continuation lines, and jepsen.util's own messages ("Waiting for ...").
// Once a line of a logger has been seen, ops are read only from jepsen.util
// lines, so that a continuation line never reads as an op. A jepsen.util
// line that starts like an op but is cut short or garbled is a *ParseError
// naming the line, as is, in a log of bare op lines, a line starting with a
// process number and a keyword that does not parse.
//
// The log has no times, so an op's Time is its line number, which keeps the
// log's real-time order; Index is its position. The ops are read as ReadEDN
// reads them (txns tagged :read or :write, a history of completions only,
// SemanticsKnossos): see finishJepsen.
func ReadJepsenLog(r io.Reader, file string) (History, error) {
	p := logParser{file: file, names: make(map[string]string)}
	lr := newLineReader(r)
	var h History
	for n := 1; ; n++ {
		b, err := lr.next()
		if err == io.EOF {
			return finishJepsen(h, file, false)
		}
		if err != nil {
			return nil, &ParseError{File: file, Line: n, Msg: "reading", Err: err}
		}
		op, ok, err := p.parse(b, n)
		if err != nil {
			return nil, err
		}
		if ok {
			op.Index = int64(len(h))
			op.Time = int64(n)
			op.Line = int32(n)
			h = append(h, op)
		}
	}
}

// logParser parses log lines, reusing its decoder and the strings of names
// (f, keyword values), which repeat on almost every line.
type logParser struct {
	file  string
	dec   ednDecoder
	names map[string]string
	// logger is set once a logger's line has been seen: from then on only
	// jepsen.util lines are ops.
	logger bool
}

var errNotOp = errors.New("not an op line")

// parse parses line n. ok is false for a line that is not an op line.
func (p *logParser) parse(b []byte, n int) (op Op, ok bool, err error) {
	line := trimBlank(b)
	rest, prefixed := afterJepsenUtil(line)
	if !prefixed {
		if p.logger {
			return op, false, nil
		}
		if isLoggerLine(line) {
			p.logger = true
			return op, false, nil
		}
		rest = line
		if !startsLikeOp(rest) {
			return op, false, nil
		}
	} else {
		p.logger = true
		if len(rest) == 0 {
			return op, false, errAt(p.file, n, "jepsen.util line has nothing after the logger name (cut short?)")
		}
		proc, _ := field(rest)
		if _, err := parseLogProcess(proc); err != nil {
			if c := proc[0]; !(c >= '0' && c <= '9' || c == ':' || c == '-') {
				return op, false, nil // jepsen.util's own message, not an op
			}
		}
	}

	proc, rest := field(rest)
	typ, rest := field(rest)
	f, rest := field(rest)
	value := trimBlank(rest)

	if op.Process, err = parseLogProcess(proc); err != nil {
		return op, false, errAt(p.file, n, "process %q is neither a non-negative integer nor :nemesis", clip(string(proc)))
	}
	if len(typ) == 0 {
		return op, false, errAt(p.file, n, "no op type after the process (line cut short?)")
	}
	if op.Type, err = parseLogType(typ); err != nil {
		return op, false, errAt(p.file, n, "op type %q is not :invoke, :ok, :fail or :info", clip(string(typ)))
	}
	if len(f) == 0 {
		return op, false, errAt(p.file, n, "no f after the op type (line cut short?)")
	}
	op.F = p.name(trimKeyword(f))
	if len(value) == 0 {
		return op, false, errAt(p.file, n, "no value after %s (line cut short?)", clip(string(f)))
	}
	// pr-str escapes tabs inside strings, so a tab after the value starts
	// the error that newer Jepsens append.
	if i := bytes.IndexByte(value, '\t'); i >= 0 {
		e := trimBlank(value[i+1:])
		value = trimBlank(value[:i])
		if isSimpleKeyword(e) {
			op.Error = p.name(e[1:])
		} else {
			op.Error = string(e)
		}
	}
	if op.Value, err = p.value(value); err != nil {
		return op, false, &ParseError{File: p.file, Line: n, Msg: "value " + strconv.Quote(clip(string(value))) + " is not EDN", Err: err}
	}
	return op, true, nil
}

// value decodes an op's value, by hand for the common nil, integer, keyword
// and vector of integers or nils.
func (p *logParser) value(b []byte) (any, error) {
	if v, ok := parseNilOrInt(b); ok {
		return v, nil
	}
	if v, ok := parseSimpleVector(b); ok {
		return v, nil
	}
	if isSimpleKeyword(b) {
		return p.name(b[1:]), nil
	}
	v, err := p.dec.decode(b)
	if err == errNoValue {
		return nil, errors.New("only a discarded value")
	}
	if err != nil {
		return nil, err
	}
	return normalizeEDN(v)
}

// name interns a name, so that a history holds one copy of each f.
func (p *logParser) name(b []byte) string {
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(p.names) < 1<<12 {
		p.names[s] = s
	}
	return s
}

// afterJepsenUtil returns what follows the "jepsen.util - " (log4j) or
// "jepsen.util: " (logback) logger name.
func afterJepsenUtil(line []byte) ([]byte, bool) {
	i := bytes.Index(line, []byte("jepsen.util"))
	if i < 0 {
		return nil, false
	}
	rest := line[i+len("jepsen.util"):]
	switch {
	case bytes.HasPrefix(rest, []byte(" - ")):
		rest = rest[3:]
	case bytes.HasPrefix(rest, []byte(": ")):
		rest = rest[2:]
	case string(rest) == " -" || string(rest) == ":":
		rest = nil // cut right after the logger name
	default:
		return nil, false
	}
	return trimBlank(rest), true
}

// logLevels are the levels Jepsen's loggers (log4j, logback) print.
var logLevels = []string{"INFO", "WARN", "ERROR", "DEBUG", "TRACE", "FATAL", "WARNING"}

// isLoggerLine reports whether a line is a logger's: one of its first four
// fields is a level (INFO, WARN...), followed somewhere by a dotted logger
// name, as in "INFO  jepsen.core - Command line:" or
// "2021-02-26 11:42:48,806{GMT}	INFO	[jepsen test runner] jepsen.core: ...".
func isLoggerLine(line []byte) bool {
	rest := line
	for range 4 {
		var f []byte
		f, rest = field(rest)
		if len(f) == 0 {
			return false
		}
		for _, l := range logLevels {
			if string(f) == l {
				return bytes.IndexByte(rest, '.') >= 0
			}
		}
	}
	return false
}

// startsLikeOp reports whether a line without the jepsen.util prefix starts
// with a process followed by a keyword, as op lines do and other log lines
// (which start with a date or a level) do not.
func startsLikeOp(b []byte) bool {
	proc, rest := field(b)
	if _, err := parseLogProcess(proc); err != nil {
		return false
	}
	rest = trimBlank(rest)
	return len(rest) > 0 && rest[0] == ':'
}

// field splits off the first space- or tab-separated field of b.
func field(b []byte) (f, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' {
		j++
	}
	return b[i:j], b[j:]
}

func trimBlank(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

func trimKeyword(b []byte) []byte {
	if len(b) > 1 && b[0] == ':' {
		return b[1:]
	}
	if len(b) > 1 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}

func parseLogProcess(b []byte) (Process, error) {
	if string(b) == ":nemesis" || string(b) == "nemesis" {
		return Nemesis, nil
	}
	if len(b) == 0 || len(b) > 9 {
		return 0, errNotOp
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errNotOp
		}
		n = n*10 + int(c-'0')
	}
	return Process(n), nil
}

func parseLogType(b []byte) (Type, error) {
	switch string(b) {
	case ":invoke", "invoke":
		return Invoke, nil
	case ":ok", "ok":
		return OK, nil
	case ":fail", "fail":
		return Fail, nil
	case ":info", "info":
		return Info, nil
	}
	return 0, errNotOp
}

func parseNilOrInt(b []byte) (any, bool) {
	if string(b) == "nil" {
		return nil, true
	}
	if i, ok := parseCanonicalInt(b); ok {
		return i, true
	}
	return nil, false
}

// parseSimpleVector parses a vector of integers and nils separated by single
// spaces, such as [1 4] or [0 nil].
func parseSimpleVector(b []byte) ([]any, bool) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, false
	}
	b = b[1 : len(b)-1]
	v := make([]any, 0, bytes.Count(b, []byte(" "))+1)
	for len(b) > 0 {
		e := b
		if i := bytes.IndexByte(b, ' '); i >= 0 {
			e, b = b[:i], b[i+1:]
			if len(b) == 0 {
				return nil, false // a trailing space
			}
		} else {
			b = nil
		}
		x, ok := parseNilOrInt(e)
		if !ok {
			return nil, false
		}
		v = append(v, x)
	}
	return v, true
}

// parseCanonicalInt parses an integer as EDN writes it (no leading zeros or
// plus sign) that fits in 18 digits.
func parseCanonicalInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	d := b
	if neg {
		d = b[1:]
	}
	if len(d) == 0 || len(d) > 18 || (d[0] == '0' && len(d) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// isSimpleKeyword reports whether b is a keyword of letters, digits and
// dashes, such as :timed-out, which reads as its name.
func isSimpleKeyword(b []byte) bool {
	if len(b) < 2 || b[0] != ':' {
		return false
	}
	for _, c := range b[1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
