package histories

// Jepsen and Knossos write histories as EDN. The values are decoded by
// olympos.io/encoding/edn, a complete EDN decoder (tags, sets, discards,
// characters, big numbers) that keeps us from hand-parsing Clojure's syntax.
// What it does not offer is where a value starts in the file, and Jepsen's
// history.edn is one vector of ops spanning thousands of lines; so ednScanner
// below finds the extent of each op (brackets, strings, characters, comments,
// tags and discards, nothing more) and hands each op's text to the decoder.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"unicode"
	"unicode/utf8"

	"olympos.io/encoding/edn"
)

// ReadEDN reads a Jepsen or Knossos history.edn. Two layouts are accepted,
// and may be mixed: op maps at the top level, usually one per line (Knossos,
// porcupine's test data), and top-level vectors or lists of op maps (Jepsen's
// history.edn, one vector over many lines).
//
// Each op is a map, or a record such as #jepsen.history.Op{...}, with
// :type (:invoke, :ok, :fail or :info), :process (an integer or :nemesis)
// and :f; optionally :key, :value, :time (nanoseconds), :index, :node and
// :error. Other keys are ignored; keys may be keywords or strings. An op may
// also be Knossos' older tuple, [process type f value] with an optional
// error after the value, one per line or in a vector.
//
// Read as leniently as Jepsen, Elle and Knossos read their own histories,
// where the meaning is unambiguous (see the package doc):
// an op with no :f whose value is a list of micro-ops is a txn, as is a
// :read or :write whose value is one; a history of completions only (Elle's
// tests) gets an invocation for each; ops of such a history may leave
// :process out (or give it as nil). :key may be a string, a number, a keyword or any value
// (named by its text). Without :time, or with the same :time on every op
// (Elle's tests write 0, Jepsen fills in -1), an op's time is its position.
// :index may have gaps; ops are numbered by position if none has one.
// Every op is marked SemanticsKnossos.
//
// Values are normalised as the package doc says; a tagged value such as
// #jepsen.independent.tuple [k v] or #inst "..." reads as its inner value.
//
// Errors are *ParseError naming the line where the offending op starts; a file
// cut off inside an op or before its closing bracket is an error, never a
// shorter history.
func ReadEDN(r io.Reader, file string) (History, error) {
	rd := &ednReader{file: file}
	rd.sc = ednScanner{file: file, line: 1, emit: rd.addOp}
	lr := newLineReader(r)
	for {
		b, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &ParseError{File: file, Line: rd.sc.line, Msg: "reading", Err: err}
		}
		if err := rd.sc.feed(b); err != nil {
			return nil, err
		}
	}
	if err := rd.sc.finish(); err != nil {
		return nil, err
	}
	switch {
	case rd.indexed == 0:
		rd.h.Renumber()
	case rd.indexed != len(rd.h):
		for _, op := range rd.h {
			if op.Index < 0 {
				return nil, errAt(file, int(op.Line), "op has no :index while others do")
			}
		}
	}
	positionTimes := rd.timed == 0 || rd.timed == len(rd.h) && rd.sameTime
	if !positionTimes && rd.timed < len(rd.h) {
		rd.fillTimes()
	}
	return finishJepsen(rd.h, file, positionTimes)
}

// ednReader turns the ops' text into a History.
type ednReader struct {
	file    string
	sc      ednScanner
	dec     ednDecoder
	h       History
	indexed int // how many ops carried an :index
	// timed is how many ops carried a :time; sameTime says they all carried
	// the first one's.
	timed    int
	sameTime bool
	// untimed are the ops without a :time when others have one.
	untimed []bool
}

// fillTimes gives each op without a :time, in a history where others have
// one, the time of the timed op before it (the first timed op's, at the
// start): its position would mix op counts with nanoseconds, and an equal
// time orders nothing, so no real-time precedence is made up.
func (rd *ednReader) fillTimes() {
	untimed := func(i int) bool { return i < len(rd.untimed) && rd.untimed[i] }
	var prev int64
	for i := range rd.h {
		if !untimed(i) {
			prev = rd.h[i].Time
			break
		}
	}
	for i := range rd.h {
		if untimed(i) {
			rd.h[i].Time = prev
		} else {
			prev = rd.h[i].Time
		}
	}
}

func (rd *ednReader) addOp(text []byte, line int) error {
	v, err := rd.dec.decode(text)
	if err == errNoValue {
		return nil // only discarded values (#_ ...)
	}
	if err != nil {
		return &ParseError{File: rd.file, Line: line, Msg: "bad EDN in the op starting here", Err: err}
	}
	op, has, err := opFromEDN(v, len(rd.h))
	if err != nil {
		return &ParseError{File: rd.file, Line: line, Msg: err.Error()}
	}
	if has.index {
		rd.indexed++
	}
	if has.time {
		if rd.timed == 0 {
			rd.sameTime = true
		} else if rd.sameTime && op.Time != rd.h[0].Time {
			rd.sameTime = false
		}
		rd.timed++
	}
	if !has.time {
		rd.untimed = append(rd.untimed, make([]bool, len(rd.h)+1-len(rd.untimed))...)
		rd.untimed[len(rd.h)] = true
	}
	op.Line = int32(line)
	rd.h = append(rd.h, op)
	return nil
}

// ednHas says which optional fields an op carried.
type ednHas struct{ index, time bool }

// opFromEDN converts one decoded op: a map, a record, or Knossos' older
// [process type f value] tuple (with an optional error after the value).
// pos is the op's position in the history, its time when it has none. An
// op without :index gets Index -1, one without :process noProcess.
func opFromEDN(v any, pos int) (op Op, has ednHas, err error) {
	for {
		// A record, as Jepsen prints its ops: #jepsen.history.Op{...}.
		t, ok := v.(edn.Tag)
		if !ok {
			break
		}
		v = t.Value
	}
	var m map[any]any
	switch x := v.(type) {
	case map[any]any:
		m = x
	case []any:
		if len(x) != 4 && len(x) != 5 {
			return op, has, fmt.Errorf("op %s is neither a map nor a Knossos [process type f value] tuple", ednText(v))
		}
		m = map[any]any{edn.Keyword("process"): x[0], edn.Keyword("type"): x[1], edn.Keyword("f"): x[2], edn.Keyword("value"): x[3]}
		if len(x) == 5 {
			m[edn.Keyword("error")] = x[4]
		}
	default:
		return op, has, fmt.Errorf("op is not a map but %s", ednText(v))
	}
	get := func(name string) (any, bool) {
		if x, ok := m[edn.Keyword(name)]; ok {
			return x, true
		}
		x, ok := m[name]
		return x, ok
	}

	x, ok := get("type")
	if !ok {
		return op, has, errors.New("op has no :type")
	}
	s, ok := ednName(x)
	if !ok {
		return op, has, fmt.Errorf(":type %s is not a keyword", ednText(x))
	}
	if op.Type, err = ParseType(s); err != nil {
		return op, has, fmt.Errorf(":type %s is not :invoke, :ok, :fail or :info", ednText(x))
	}

	op.Process = noProcess
	if x, ok = get("process"); ok && x != nil {
		switch p := x.(type) {
		case int64:
			if p < 0 || int64(int(p)) != p {
				return op, has, fmt.Errorf(":process %d is not a non-negative integer", p)
			}
			op.Process = Process(p)
		default:
			if s, ok := ednName(x); ok && s == "nemesis" {
				op.Process = Nemesis
			} else {
				return op, has, fmt.Errorf(":process %s is not an integer or :nemesis", ednText(x))
			}
		}
	}

	if x, ok = get("value"); ok {
		if op.Value, err = normalizeEDN(x); err != nil {
			return op, has, fmt.Errorf(":value: %w", err)
		}
	}

	if x, ok = get("f"); ok {
		if op.F, ok = ednName(x); !ok {
			return op, has, fmt.Errorf(":f %s is not a keyword", ednText(x))
		}
	} else if isMicroOps(op.Value) {
		op.F = "txn" // Elle's examples leave :f out of transactions
	} else {
		return op, has, errors.New("op has no :f (and its value is not a list of micro-ops, which would make it a txn)")
	}

	if x, ok = get("key"); ok && x != nil {
		switch k := x.(type) {
		case int64:
			op.Key = strconv.FormatInt(k, 10)
		case float64:
			op.Key = strconv.FormatFloat(k, 'g', -1, 64)
		default:
			// A keyword or string is its name; any other value (a
			// vector, a map) its text.
			if op.Key, err = ednString(x); err != nil {
				return op, has, fmt.Errorf(":key: %w", err)
			}
		}
	}

	op.Time = int64(pos)
	if x, ok = get("time"); ok {
		t, isInt := x.(int64)
		if !isInt {
			return op, has, fmt.Errorf(":time %s is not an integer", ednText(x))
		}
		op.Time, has.time = t, true
	}

	op.Index = -1
	if x, ok = get("index"); ok {
		i, isInt := x.(int64)
		if !isInt || i < 0 {
			return op, has, fmt.Errorf(":index %s is not a non-negative integer", ednText(x))
		}
		op.Index, has.index = i, true
	}

	if x, ok = get("node"); ok {
		if op.Node, err = ednString(x); err != nil {
			return op, has, fmt.Errorf(":node: %w", err)
		}
	}
	if x, ok = get("error"); ok {
		if op.Error, err = ednString(x); err != nil {
			return op, has, fmt.Errorf(":error: %w", err)
		}
	}
	return op, has, nil
}

// ednName is the name of a keyword or symbol, or a string itself.
func ednName(v any) (string, bool) {
	switch x := v.(type) {
	case edn.Keyword:
		return string(x), true
	case edn.Symbol:
		return string(x), true
	case string:
		return x, true
	}
	return "", false
}

// ednString is the text form of a field that faultline keeps as a string:
// a name as itself, nil as "", anything else as FormatValue shows it.
func ednString(v any) (string, error) {
	n, err := normalizeEDN(v)
	switch s := n.(type) {
	case nil:
		return "", err
	case string:
		return s, nil
	}
	return FormatValue(n), nil
}

// ednText shows a decoded value in an error message, keywords with their
// colon.
func ednText(v any) string {
	switch x := v.(type) {
	case edn.Keyword:
		return clip(":" + string(x))
	case edn.Symbol:
		return clip(string(x))
	}
	n, err := normalizeEDN(v)
	if err != nil {
		return fmt.Sprintf("a %T", v)
	}
	return clip(FormatValue(n))
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// normalizeEDN turns what the EDN library decodes into the value types of
// Op.Value: keywords and symbols become strings without the colon,
// characters one-character strings, integers int64, vectors and lists
// []any, sets []any in FormatValue order (so that equal sets read equal),
// maps map[string]any, and tagged values their inner value.
func normalizeEDN(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x, nil
	case edn.Keyword:
		return string(x), nil
	case edn.Symbol:
		return string(x), nil
	case rune:
		return string(x), nil
	case big.Int:
		return bigToInt64(&x)
	case *big.Int:
		return bigToInt64(x)
	case edn.Tag:
		return normalizeEDN(x.Value)
	case *any:
		// The library's stand-in for a map key or set element that Go
		// cannot hash (a vector or a map).
		return normalizeEDN(*x)
	case []any:
		for i, e := range x {
			n, err := normalizeEDN(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			nk, err := normalizeEDN(k)
			if err != nil {
				return nil, err
			}
			ks, ok := nk.(string)
			if !ok {
				ks = FormatValue(nk)
			}
			if _, dup := m[ks]; dup {
				return nil, fmt.Errorf("map has two keys that both read as %q", ks)
			}
			if m[ks], err = normalizeEDN(e); err != nil {
				return nil, err
			}
		}
		return m, nil
	case map[any]bool:
		type elem struct {
			text string
			v    any
		}
		es := make([]elem, 0, len(x))
		for k := range x {
			n, err := normalizeEDN(k)
			if err != nil {
				return nil, err
			}
			es = append(es, elem{FormatValue(n), n})
		}
		slices.SortFunc(es, func(a, b elem) int {
			switch {
			case a.text < b.text:
				return -1
			case a.text > b.text:
				return 1
			}
			return 0
		})
		s := make([]any, len(es))
		for i, e := range es {
			s[i] = e.v
		}
		return s, nil
	}
	return nil, fmt.Errorf("unsupported EDN value of type %T", v)
}

func bigToInt64(b *big.Int) (any, error) {
	if !b.IsInt64() {
		return nil, fmt.Errorf("integer of %d bits does not fit in 64", b.BitLen()+1)
	}
	return b.Int64(), nil
}

// ednTags overrides the tags that the EDN library converts for every decoder
// (#inst to time.Time, #base64 to []byte) so that they too read as their
// inner string, and a malformed #inst is not an error. (Their input is a
// string, not any: see ednDecoder.decode.)
var ednTags = func() *edn.TagMap {
	tm := new(edn.TagMap)
	inner := func(s string) (string, error) { return s, nil }
	tm.MustAddTagFn("inst", inner)
	tm.MustAddTagFn("base64", inner)
	return tm
}()

// errNoValue is what decoding text that holds only discarded values gives.
var errNoValue = errors.New("no value")

// ednDecoder decodes one value from a byte slice, reusing its buffers.
type ednDecoder struct {
	src  bytes.Reader
	br   *bufio.Reader
	wrap []byte
}

// decode decodes text, which must hold one value (or only discarded ones:
// errNoValue).
//
// The text is decoded as the element of a vector. The library decodes a
// top-level value (and the input of a tag function that takes any) with
// other code than a value inside a collection, and that code parses a float
// written with M into a big.Float, which takes minutes for an exponent such
// as 1e-2212211M (found by FuzzReadEDN). Inside a collection, every number
// is read with strconv.
func (d *ednDecoder) decode(text []byte) (any, error) {
	d.wrap = append(append(append(d.wrap[:0], '['), text...), "\n]"...)
	v, err := d.decodeValue(d.wrap)
	if err != nil {
		return nil, err
	}
	switch vs, _ := v.([]any); len(vs) {
	case 0:
		return nil, errNoValue
	case 1:
		return vs[0], nil
	default:
		return nil, errors.New("more than one value where one was expected")
	}
}

func (d *ednDecoder) decodeValue(text []byte) (v any, err error) {
	d.src.Reset(text)
	if d.br == nil {
		// edn.NewDecoder wraps its reader in a bufio.Reader unless it is one
		// of at least the default size already, so this one is reused.
		d.br = bufio.NewReaderSize(&d.src, 4096)
	} else {
		d.br.Reset(&d.src)
	}
	defer func() {
		// The library reports errors by panicking and recovering; make sure
		// nothing it did not anticipate escapes.
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("the EDN decoder failed: %v", r)
		}
	}()
	dec := edn.NewDecoder(d.br)
	dec.UseTagMap(ednTags)
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var more any
	switch err := dec.Decode(&more); err {
	case io.EOF:
		return v, nil
	case nil:
		return nil, errors.New("more than one value where one was expected")
	default:
		return nil, err
	}
}

// maxEDNNesting bounds brackets plus pending tags and discards in an op. The
// EDN library recurses on each, and a Go stack overflow cannot be recovered.
const maxEDNNesting = 512

// ednScanner finds the text of each op in EDN input fed to it line by line,
// and passes it with the line it starts on to emit. Ops are the top-level
// values, or the elements of a top-level vector or list. It knows only as
// much EDN as it takes to find where a value ends; the decoder judges the
// rest.
type ednScanner struct {
	file string
	emit func(text []byte, line int) error

	line int // the line being scanned, 1-based

	// marks holds, innermost last, the closing bracket of every open
	// collection and a '#' or '_' for every tag or discard still waiting for
	// its value. depth counts the brackets alone.
	marks []byte
	depth int

	// container is set inside a top-level vector or list of ops. pending
	// says that its first element has not begun yet: until it does, a
	// top-level vector may as well be an op itself (Knossos' tuple form,
	// [process type f value]), and is read as one tentatively.
	container     bool
	containerLine int
	pending       bool

	// The op being read: it started on opLine, at opStart of the current
	// line; text holds its part on earlier lines.
	inOp    bool
	opLine  int
	opStart int
	text    []byte

	// Lexical state, kept across lines.
	inString, escape bool
	inAtom           bool // a number, keyword, symbol, character or tag
	atomIsTag        bool // the atom is a tag (#foo), which waits for a value
	charNext         bool // the atom is a character: the next rune is part of it
}

// isPrefixMark tells a tag's or discard's mark from a closing bracket.
func isPrefixMark(m byte) bool { return m == '#' || m == '_' }

func (s *ednScanner) opDepth() int {
	if s.container {
		return 1
	}
	return 0
}

// feed scans one line (with its newline, if any).
func (s *ednScanner) feed(b []byte) error {
	i := 0
	for i < len(b) {
		c := b[i]
		if s.inString {
			for i < len(b) {
				c = b[i]
				i++
				if s.escape {
					s.escape = false
				} else if c == '\\' {
					s.escape = true
				} else if c == '"' {
					s.inString = false
					if err := s.valueEnd(b, i); err != nil {
						return err
					}
					break
				}
			}
			continue
		}
		if s.inAtom {
			if s.charNext {
				s.charNext = false
				_, n := utf8.DecodeRune(b[i:])
				i += n
				continue
			}
			if !ednDelimiter(b[i:]) {
				i++
				continue
			}
			s.inAtom = false
			if s.atomIsTag {
				s.atomIsTag = false
				continue
			}
			if err := s.valueEnd(b, i); err != nil {
				return err
			}
			continue // the delimiter is scanned next
		}
		switch c {
		case ' ', '\t', '\n', '\r', ',', '\f', '\v':
			i++
		case ';':
			i = len(b) // a comment, to the end of the line
		case '"':
			s.begin(b, i)
			s.inString = true
			i++
		case '[', '(', '{':
			closer := byte(']')
			switch c {
			case '(':
				closer = ')'
			case '{':
				closer = '}'
			}
			if c != '{' && len(s.marks) == 0 && !s.inOp {
				s.container = true
				s.containerLine = s.line
				s.pending = true
				s.inOp, s.opLine, s.opStart = true, s.line, i
				s.text = s.text[:0]
			} else {
				s.begin(b, i)
			}
			if err := s.push(closer); err != nil {
				return err
			}
			i++
		case ']', ')', '}':
			if err := s.close(b, i, c); err != nil {
				return err
			}
			i++
		case '#':
			s.begin(b, i)
			var next []byte
			if i+1 < len(b) {
				next = b[i+1:]
			}
			switch {
			case len(next) > 0 && next[0] == '{':
				if err := s.push('}'); err != nil {
					return err
				}
				i += 2
			case len(next) > 0 && next[0] == '_':
				if err := s.push('_'); err != nil {
					return err
				}
				i += 2
			case startsWithLetter(next):
				if err := s.push('#'); err != nil {
					return err
				}
				s.inAtom, s.atomIsTag = true, true
				i++
			default: // not EDN; the decoder will say so
				s.inAtom = true
				i++
			}
		case '\\':
			s.begin(b, i)
			s.inAtom, s.charNext = true, true
			i++
		default:
			if c >= utf8.RuneSelf {
				if r, n := utf8.DecodeRune(b[i:]); unicode.IsSpace(r) {
					i += n
					continue
				}
			}
			s.begin(b, i)
			s.inAtom = true
			i++
		}
	}
	if s.inOp {
		s.text = append(s.text, b[s.opStart:]...)
	}
	s.opStart = 0
	s.line++
	return nil
}

// begin notes that a value, tag or discard starts at b[i]: if it is at the
// depth of ops and no op is open, an op starts there.
func (s *ednScanner) begin(b []byte, i int) {
	if s.pending && s.depth == 1 {
		// The first element of a top-level vector or list: a map, a
		// record, a vector or a tag or discard makes it a collection of
		// ops; anything else (a process number or :nemesis) one op, a
		// Knossos tuple, which began at the bracket.
		s.pending = false
		switch b[i] {
		case '{', '#', '[', '(':
			s.inOp = false
		default:
			s.container = false
			return
		}
	}
	if !s.inOp && s.depth == s.opDepth() {
		s.inOp = true
		s.opLine = s.line
		s.opStart = i
		s.text = s.text[:0]
	}
}

func (s *ednScanner) push(mark byte) error {
	if len(s.marks) >= maxEDNNesting {
		return errAt(s.file, s.errLine(), "EDN nested more than %d deep", maxEDNNesting)
	}
	s.marks = append(s.marks, mark)
	if !isPrefixMark(mark) {
		s.depth++
	}
	return nil
}

// errLine is the line to blame: the open op's, else the current one.
func (s *ednScanner) errLine() int {
	if s.inOp {
		return s.opLine
	}
	return s.line
}

// close handles the closing bracket c at b[i].
func (s *ednScanner) close(b []byte, i int, c byte) error {
	// Tags and discards right before a closing bracket never got their
	// value; the decoder will complain about a tag, and a discard there is
	// invalid EDN as well.
	for n := len(s.marks); n > 0 && isPrefixMark(s.marks[n-1]); n-- {
		s.marks = s.marks[:n-1]
	}
	if len(s.marks) == 0 {
		return errAt(s.file, s.errLine(), "unexpected %c at line %d: no bracket is open", c, s.line)
	}
	if want := s.marks[len(s.marks)-1]; want != c {
		return errAt(s.file, s.errLine(), "%c at line %d does not match the open bracket, which wants %c", c, s.line, want)
	}
	s.marks = s.marks[:len(s.marks)-1]
	s.depth--
	if s.container && s.depth == 0 {
		// The end of a top-level vector of ops. An op still open here is
		// only tags or discards: let the decoder judge it.
		s.container = false
		if s.pending {
			s.pending, s.inOp = false, false // an empty vector
		}
		if s.inOp {
			return s.emitOp(b, i)
		}
		return nil
	}
	return s.valueEnd(b, i+1)
}

// valueEnd notes that a value ended just before b[end]. The tags waiting for
// it are complete with it; a discard waiting for it swallows it. If it
// completes an op, the op is emitted.
func (s *ednScanner) valueEnd(b []byte, end int) error {
	for n := len(s.marks); n > 0; n-- {
		m := s.marks[n-1]
		if m == '#' {
			s.marks = s.marks[:n-1]
			continue
		}
		if m == '_' {
			s.marks = s.marks[:n-1]
			if s.inOp && s.depth == s.opDepth() && (n == 1 || !isPrefixMark(s.marks[n-2])) {
				// Nothing but discarded values so far: the op, if any,
				// starts at the next value.
				s.inOp = false
			}
			return nil
		}
		break
	}
	if s.inOp && s.depth == s.opDepth() {
		return s.emitOp(b, end)
	}
	return nil
}

func (s *ednScanner) emitOp(b []byte, end int) error {
	s.text = append(s.text, b[s.opStart:end]...)
	s.inOp = false
	return s.emit(s.text, s.opLine)
}

// finish checks the state at the end of the input.
func (s *ednScanner) finish() error {
	if s.pending {
		s.pending, s.inOp = false, false // a vector opened and nothing in it
	}
	if s.inString || s.charNext {
		return errAt(s.file, s.errLine(), "the file ends inside a string in the op starting here (is it truncated?)")
	}
	if s.inAtom {
		s.inAtom = false
		if !s.atomIsTag {
			if err := s.valueEnd(nil, 0); err != nil {
				return err
			}
		}
	}
	if s.inOp {
		if s.depth > s.opDepth() {
			return errAt(s.file, s.opLine, "the file ends inside the op starting here: %d bracket(s) are not closed (is it truncated?)", s.depth-s.opDepth())
		}
		// Only tags or discards: the decoder will judge.
		if err := s.emitOp(nil, 0); err != nil {
			return err
		}
	}
	if s.container {
		return errAt(s.file, s.containerLine, "the vector of ops opened here is never closed (is the file truncated?)")
	}
	return nil
}

// ednDelimiter reports whether b starts with a rune that ends an EDN number,
// keyword, symbol or character, as the library's lexer decides.
func ednDelimiter(b []byte) bool {
	switch c := b[0]; c {
	case ' ', '\t', '\n', '\r', ',', '\f', '\v', '"', '(', ')', '[', ']', '{', '}', '\\', ';':
		return true
	default:
		if c < utf8.RuneSelf {
			return false
		}
	}
	r, _ := utf8.DecodeRune(b)
	return unicode.IsSpace(r)
}

func startsWithLetter(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	r, _ := utf8.DecodeRune(b)
	return unicode.IsLetter(r)
}

// lineReader yields the lines of r, each with its newline (the last may have
// none), however long they are, without a byte-order mark.
type lineReader struct {
	br      *bufio.Reader
	buf     []byte
	started bool
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 16<<10)}
}

// next returns the next line, valid until the next call, or io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	b, err := lr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.buf = append(lr.buf[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = lr.br.ReadSlice('\n')
			lr.buf = append(lr.buf, b...)
		}
		b = lr.buf
	}
	if err == io.EOF && len(b) > 0 {
		err = nil
	}
	if !lr.started {
		lr.started = true
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a byte-order mark
	}
	return b, err
}
