package txn

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// The fast reader of transactional JSONL histories.
//
// histories.ReadFile turns every micro-op into a []any of boxed values,
// and parse then turns those into the checker's compact form; for a
// history of millions of transactions the first step is most of the time
// and memory of a check. ReadFile here reads the file in line-aligned
// pieces of pieceSize bytes, scans the pieces in parallel (one worker per
// CPU) with a scanner for faultline's own op lines, and keeps each
// transaction's micro-ops in a compact byte encoding (see scanValue);
// the history it returns carries no value for those ops (Value nil), and
// the checker reads their micro-ops from the encoding (encValues). Each
// piece's bytes are reused for the next piece once scanned, so the file is
// never held whole; the lines of a plain file are counted first, so that
// each op is written once, straight to its place in the history. A line the scanner is not sure of (another field, a
// string with escapes, a value that is not micro-ops of integers, a nemesis
// op …) is decoded as histories does and kept whole. A bad line makes the
// whole file be read again by histories.ReadFile, whose error names it,
// but for a last line cut off mid-op, which is a *histories.TruncatedError
// as there.

// pieceSize is how much of the file one worker scans at a time (a
// variable for the tests, which make it small).
var pieceSize = 8 << 20

// Ingested is the compact form of a history's transactions, as ReadFile
// reads it, for CheckIngested.
type Ingested struct {
	workload string
	// nwrites is how many append and w micro-ops the encoded invocations
	// hold: one per element written, for the parser's arrays.
	nwrites int
	// released: a check parsed the transactions and dropped refs and
	// pieces (see release).
	released bool
	// refs: for each op of the history, 1 + its piece << 32 | its offset
	// in the piece's encoding; 0 for an op kept whole.
	refs   []uint64
	pieces []encPiece
}

// encPiece is the encoded micro-ops of one piece of the file, and the
// string keys they name by number.
type encPiece struct {
	enc  []byte
	keys []encKey
}

// encKey is a key as written: a string, or an integer.
type encKey struct {
	s     string
	i     int64
	isInt bool
}

// release drops the encoding once the checker has parsed it: it is most
// of the memory ReadFile keeps, and the checker rebuilds what it shows of
// the micro-ops from its own form.
func (in *Ingested) release() {
	in.refs, in.pieces, in.released = nil, nil, true
}

// Workload is the transactional workload the micro-ops show (as
// suite.InferWorkload: the first append or w micro-op decides), or "".
func (in *Ingested) Workload() string { return in.workload }

// ReadAppendFile is ReadFile of a list-append history.
func ReadAppendFile(path string) (histories.History, *Ingested, error) {
	return ReadFile(path, "append")
}

// ReadFile reads a history as histories.ReadFile does (a file, or a
// directory holding one; gzip-compressed or not), with the same history
// and errors, but a faultline JSONL history of transactions fast: its
// transactions' values are not in the history (Value nil) but in the
// *Ingested, which CheckIngested takes with the history. The *Ingested is
// nil when the file was read by histories.ReadFile: another format, no
// transaction (workload "" and none inferred), or a bad line.
func ReadFile(path, workload string) (histories.History, *Ingested, error) {
	p, err := histories.Resolve(path)
	if err != nil {
		return nil, nil, err
	}
	h, in, err := readFast(p, workload)
	if err == errNotFast {
		h, err = histories.ReadFile(p)
		return h, nil, err
	}
	return h, in, err
}

// errNotFast: read the file the general way.
var errNotFast = errors.New("not for the fast reader")

func readFast(p, workload string) (histories.History, *Ingested, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, errNotFast
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, errNotFast
	}
	// A plain file is read as far as it was when its lines were counted
	// (a run may still be writing it).
	size := int64(-1)
	var src io.Reader = f
	if st.Mode().IsRegular() {
		size = st.Size()
		src = io.NewSectionReader(f, 0, size)
	}
	br := bufio.NewReaderSize(src, 1<<16)
	name := p
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, errNotFast
		}
		defer zr.Close()
		zbr := bufio.NewReaderSize(zr, 1<<16)
		r, br, name, size = zbr, zbr, strings.TrimSuffix(p, ".gz"), -1
	}
	head, _ := br.Peek(4096)
	if format, err := histories.Detect(name, head); err != nil || format != histories.FormatJSONL {
		return nil, nil, errNotFast
	}
	var sc scan
	if size >= 0 {
		// The history by line, so that the pieces' ops go straight
		// to their place.
		lines, err := countLines(f, size)
		if err != nil {
			return nil, nil, errNotFast
		}
		sc.h, sc.refs = make(histories.History, lines), make([]uint64, lines)
	}
	final, err := sc.run(r)
	if err != nil {
		return nil, nil, errNotFast
	}
	in := &Ingested{workload: workload}
	var bad *pieceOut
	indexed, holes := 0, 0
	for i := range sc.outs {
		o := &sc.outs[i]
		if in.workload == "" {
			in.workload = o.infer
		}
		indexed += o.indexed
		holes += o.holes
		in.nwrites += o.writes
		if o.badLine > 0 {
			bad = o
			sc.outs = sc.outs[:i+1]
			break
		}
	}
	if in.workload == "" || sc.grew || (sc.h != nil && final.lastLine != len(sc.h)) {
		// (Or the file changed while it was read.)
		return nil, nil, errNotFast
	}
	var trunc *histories.TruncatedError
	if bad != nil {
		// Only the last line, with no newline, and the start of a JSON
		// object that ends too soon: cut off, as histories says.
		text := bytes.TrimSpace(bad.badText)
		if bad.badLine != final.lastLine || !final.noNewline || text[0] != '{' || json.Valid(text) {
			return nil, nil, errNotFast
		}
		trunc = &histories.TruncatedError{File: p, Line: bad.badLine, Bytes: len(bad.badText),
			Err: &histories.ParseError{File: p, Line: bad.badLine, Msg: "bad op", Err: bad.badErr}}
		holes++
	}
	h, refs := sc.h, sc.refs
	in.pieces = make([]encPiece, len(sc.outs))
	if h == nil {
		// The pieces' ops, one after the other.
		n := 0
		for k := range sc.outs {
			n += len(sc.outs[k].ops)
		}
		h, refs = make(histories.History, 0, n), make([]uint64, 0, n)
	}
	for k := range sc.outs {
		o := &sc.outs[k]
		in.pieces[k] = encPiece{enc: o.enc, keys: o.keys}
		if sc.h == nil {
			h, refs = append(h, o.ops...), append(refs, o.refs...)
		}
		*o = pieceOut{}
	}
	if holes > 0 {
		// Blank lines, and a line cut off, leave no op.
		j := 0
		for i := range h {
			if h[i].Type != 0 {
				h[j], refs[j] = h[i], refs[i]
				j++
			}
		}
		clear(h[j:])
		h, refs = h[:j], refs[:j]
	}
	in.refs = refs
	if indexed == 0 {
		h.Renumber()
	} else if indexed != len(h) {
		// "op has no index while others do": histories says where.
		return nil, nil, errNotFast
	}
	if trunc != nil {
		trunc.History = h
		return nil, in, trunc
	}
	return h, in, nil
}

// countLines counts the lines of the first size bytes of f.
func countLines(f *os.File, size int64) (int, error) {
	buf := make([]byte, 1<<20)
	lines := 0
	last := byte('\n')
	for off := int64(0); off < size; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		lines += bytes.Count(buf[:n], []byte{'\n'})
		if n > 0 {
			last = buf[n-1]
		}
		off += int64(n)
		if err != nil && (err != io.EOF || off < size) {
			return 0, err
		}
	}
	if last != '\n' {
		lines++
	}
	return lines, nil
}

// pieceOut is what the scan of one piece produced: its ops, by line (a
// blank line leaves a hole, an op of type 0), and their references into
// its encoding.
type pieceOut struct {
	ops  []histories.Op
	refs []uint64
	enc  []byte
	keys []encKey
	// infer is the workload of the piece's first append or w micro-op.
	infer string
	// writes: the append and w micro-ops of the piece's invocations;
	// opWrites those of the op scanned last.
	writes, opWrites int
	indexed          int // ops with an index
	holes            int
	// The first bad line, if any: its number, error and text.
	badLine int
	badErr  error
	badText []byte
	keyIDs  map[string]uint32
	intIDs  map[int64]uint32
	// intCache holds some of intIDs: a key, and its id + 1.
	intCache *[4096]struct {
		k  int64
		id uint32
	}
	strs    map[string]string // node and error strings
	scratch []int64
}

// piece is a run of whole lines of the file.
type piece struct {
	k, line0, lines int
	data            []byte
	buf             []byte // to give back
}

// fileEnd says how the file ended: its last line's number, and whether
// it had no newline.
type fileEnd struct {
	lastLine  int
	noNewline bool
}

// scan is the parallel scan of a file's pieces.
type scan struct {
	// h and refs, by line, if the lines were counted; else each piece
	// has its own.
	h    histories.History
	refs []uint64
	outs []pieceOut
	mu   sync.Mutex
	grew bool // more lines than counted
}

// run reads r in pieces and scans them in parallel.
func (sc *scan) run(r io.Reader) (fileEnd, error) {
	workers := runtime.GOMAXPROCS(0)
	free := make(chan []byte, workers+1)
	for range workers + 1 {
		free <- nil
	}
	work := make(chan piece, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pc := range work {
				var o pieceOut
				if sc.h == nil {
					o.ops, o.refs = make(histories.History, pc.lines), make([]uint64, pc.lines)
				} else if end := pc.line0 - 1 + pc.lines; end <= len(sc.h) {
					o.ops, o.refs = sc.h[pc.line0-1:end], sc.refs[pc.line0-1:end]
				} else {
					sc.mu.Lock()
					sc.grew = true
					sc.mu.Unlock()
					free <- pc.buf
					continue
				}
				o.scan(pc)
				sc.mu.Lock()
				for len(sc.outs) <= pc.k {
					sc.outs = append(sc.outs, pieceOut{})
				}
				sc.outs[pc.k] = o
				sc.mu.Unlock()
				free <- pc.buf
			}
		}()
	}
	end, err := readPieces(r, free, work)
	close(work)
	wg.Wait()
	return end, err
}

// readPieces cuts r into pieces that end at a newline (but the last),
// reusing the buffers of free.
func readPieces(r io.Reader, free chan []byte, work chan<- piece) (fileEnd, error) {
	var carry []byte
	line, k := 1, 0
	var end fileEnd
	for {
		buf := <-free
		size := max(pieceSize, 2*len(carry))
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:cap(buf)]
		n := copy(buf, carry)
		m, err := io.ReadFull(r, buf[n:])
		n += m
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return end, err
		}
		data := buf[:n]
		cut := n
		if !eof {
			cut = bytes.LastIndexByte(data, '\n') + 1
		}
		// A line longer than the buffer: read on into a larger one.
		carry = append(carry[:0], data[cut:]...)
		data = data[:cut]
		nl := bytes.Count(data, []byte{'\n'})
		if len(data) > 0 {
			lines := nl
			if data[len(data)-1] != '\n' {
				lines++
			}
			work <- piece{k: k, line0: line, lines: lines, data: data, buf: buf}
			k++
		} else {
			free <- buf
		}
		if eof {
			end.noNewline = len(data) > 0 && data[len(data)-1] != '\n'
			end.lastLine = line + nl
			if !end.noNewline {
				end.lastLine--
			}
			return end, nil
		}
		line += nl
	}
}

// scan reads the lines of the piece into o.ops.
func (o *pieceOut) scan(pc piece) {
	data := pc.data
	o.enc = make([]byte, 0, len(data)/5)
	o.strs = map[string]string{}
	o.keyIDs = map[string]uint32{}
	o.intIDs = map[int64]uint32{}
	o.intCache = new([4096]struct {
		k  int64
		id uint32
	})
	for pos, i := 0, 0; pos < len(data); i++ {
		e := bytes.IndexByte(data[pos:], '\n')
		if e < 0 {
			e = len(data)
		} else {
			e += pos
		}
		raw := data[pos:e]
		pos = e + 1
		text := bytes.TrimSpace(raw)
		if len(text) == 0 {
			o.holes++
			continue
		}
		op := &o.ops[i]
		line := pc.line0 + i
		enc := len(o.enc)
		infer, ok := o.scanOp(text, op)
		if ok {
			o.refs[i] = uint64(pc.k+1)<<32 | uint64(enc)
			if op.Type == histories.Invoke {
				o.writes += o.opWrites
			}
		} else {
			if err := op.UnmarshalJSON(text); err != nil {
				*op = histories.Op{}
				o.badLine, o.badErr, o.badText = line, err, bytes.Clone(raw)
				break
			}
			if op.Process != histories.Nemesis && op.F == "txn" {
				infer = inferValue(op.Value)
			}
		}
		op.Line = int32(line)
		if op.Index >= 0 {
			o.indexed++
		}
		if o.infer == "" {
			o.infer = infer
		}
	}
	o.keyIDs, o.intIDs, o.intCache, o.strs, o.scratch = nil, nil, nil, nil, nil
	if cap(o.enc) > len(o.enc)+len(o.enc)/4 {
		o.enc = slices.Clone(o.enc) // kept as long as the check runs
	}
}

// inferValue is the workload of a txn value's first append or w micro-op,
// as suite.InferWorkload.
func inferValue(v any) string {
	mops, _ := v.([]any)
	for _, m := range mops {
		if mop, _ := m.([]any); len(mop) > 0 {
			if f, _ := mop[0].(string); encKinds[f].shows != "" {
				return encKinds[f].shows
			}
		}
	}
	return ""
}

// Field bits of scanOp.
const (
	fieldIndex = 1 << iota
	fieldTime
	fieldProcess
	fieldType
	fieldF
	fieldValue
	fieldNode
	fieldError
	fieldsNeeded = fieldProcess | fieldType | fieldF | fieldValue
)

// opTypes are the op types the scanner takes, as faultline writes them.
var opTypes = map[string]histories.Type{"invoke": histories.Invoke, "ok": histories.OK, "fail": histories.Fail, "info": histories.Info}

// scanOp reads a client's txn op line of the plain shape faultline writes
// into op and the piece's encoding, or says it cannot (ok false, having
// added nothing to the encoding). infer is the workload its micro-ops
// show, if any.
func (o *pieceOut) scanOp(b []byte, op *histories.Op) (infer string, ok bool) {
	s := lineScanner{b: b}
	encStart := len(o.enc)
	defer func() {
		if !ok {
			o.enc = o.enc[:encStart]
		}
	}()
	if !s.eat('{') {
		return "", false
	}
	*op = histories.Op{Index: -1, F: "txn"}
	seen := 0
	for more := true; more; {
		key, ok := s.str()
		if !ok || !s.eat(':') {
			return "", false
		}
		var bit int
		switch string(key) {
		case "index":
			bit = fieldIndex
			op.Index, ok = s.int()
		case "time":
			bit = fieldTime
			op.Time, ok = s.int()
		case "process":
			bit = fieldProcess
			var n int64
			n, ok = s.int()
			ok = ok && n >= 0 && n <= math.MaxInt32
			op.Process = histories.Process(n)
		case "type":
			bit = fieldType
			t, _ := s.str() // not a string: no type
			op.Type, ok = opTypes[string(t)]
		case "f":
			bit = fieldF
			var f []byte
			f, ok = s.str()
			ok = ok && string(f) == "txn"
		case "value":
			bit = fieldValue
			infer, ok = o.scanValue(&s)
		case "node", "error":
			bit = fieldNode
			if key[0] == 'e' {
				bit = fieldError
			}
			var v []byte
			v, ok = s.str()
			str, found := o.strs[string(v)]
			if !found {
				str = string(v)
				o.strs[str] = str
			}
			if bit == fieldNode {
				op.Node = str
			} else {
				op.Error = str
			}
		}
		if !ok || bit == 0 || seen&bit != 0 {
			return "", false
		}
		seen |= bit
		if more, ok = s.next('}'); !ok {
			return "", false
		}
	}
	return infer, s.skip() == 0 && s.i == len(s.b) && seen&fieldsNeeded == fieldsNeeded
}

// The encoding of one op's micro-ops: a byte, their number (at most
// maxEncMops); then for each a tag (its kind: encRead, encAppend,
// encWrite; its value's kind times encVal), its key (the uvarint of its
// number in the piece's keys), and its value: nothing for null, a varint,
// or for a list the uvarint of its length and a varint for each element.
const (
	encRead    = 1
	encAppend  = 2
	encWrite   = 3
	encKind    = 3
	encVal     = 4 // times rvNull, rvInt or rvList
	maxEncMops = 127
)

var encNames = [...]string{encRead: "r", encAppend: "append", encWrite: "w"}

// encKinds are the micro-ops the scanner takes, and the workload each
// shows.
var encKinds = map[string]struct {
	tag   byte
	shows string
}{"r": {encRead, ""}, "append": {encAppend, "append"}, "w": {encWrite, "rw-register"}}

// scanValue reads a txn value of micro-ops whose keys are integers or plain
// strings and whose values are null, integers or lists of integers.
func (o *pieceOut) scanValue(s *lineScanner) (infer string, ok bool) {
	if !s.eat('[') {
		return "", false
	}
	at := len(o.enc)
	o.enc = append(o.enc, 0)
	o.opWrites = 0
	if s.eat(']') {
		return "", true
	}
	n := 0
	for more := true; more; {
		if n++; n > maxEncMops || !s.eat('[') {
			return "", false
		}
		f, ok := s.str()
		kind, known := encKinds[string(f)]
		if !ok || !known || !s.eat(',') {
			return "", false
		}
		if infer == "" {
			infer = kind.shows
		}
		tag := kind.tag
		if tag != encRead {
			o.opWrites++
		}
		tagAt := len(o.enc)
		o.enc = append(o.enc, 0)
		id, ok := o.scanKey(s)
		if !ok || !s.eat(',') {
			return "", false
		}
		o.enc = binary.AppendUvarint(o.enc, uint64(id))
		switch s.skip() {
		case 'n':
			if !bytes.HasPrefix(s.b[s.i:], []byte("null")) {
				return "", false
			}
			s.i += 4
			tag |= rvNull * encVal
		case '[':
			tag |= rvList * encVal
			if o.scratch, ok = s.ints(o.scratch[:0]); !ok {
				return "", false
			}
			o.enc = binary.AppendUvarint(o.enc, uint64(len(o.scratch)))
			for _, x := range o.scratch {
				o.enc = binary.AppendVarint(o.enc, x)
			}
		default:
			x, ok := s.int()
			if !ok {
				return "", false
			}
			tag |= rvInt * encVal
			o.enc = binary.AppendVarint(o.enc, x)
		}
		o.enc[tagAt] = tag
		if !s.eat(']') {
			return "", false
		}
		if more, ok = s.next(']'); !ok {
			return "", false
		}
	}
	o.enc[at] = byte(n)
	return infer, true
}

// scanKey reads a key, an integer or a plain string, and numbers it in
// the piece.
func (o *pieceOut) scanKey(s *lineScanner) (uint32, bool) {
	if s.skip() == '"' {
		k, ok := s.str()
		if !ok {
			return 0, false
		}
		id, found := o.keyIDs[string(k)]
		if !found {
			id = uint32(len(o.keys))
			o.keys = append(o.keys, encKey{s: string(k)})
			o.keyIDs[string(k)] = id
		}
		return id, true
	}
	k, ok := s.int()
	if !ok {
		return 0, false
	}
	// Keys are often small integers, and a piece uses a few thousand.
	c := &o.intCache[uint64(k)%uint64(len(o.intCache))]
	if c.id > 0 && c.k == k {
		return c.id - 1, true
	}
	id, found := o.intIDs[k]
	if !found {
		id = uint32(len(o.keys))
		o.keys = append(o.keys, encKey{i: k, isInt: true})
		o.intIDs[k] = id
	}
	c.k, c.id = k, id+1
	return id, true
}

// lineScanner reads the JSON of one line as histories' fast decoder
// does, accepting a part of what it accepts. Each reading skips the
// whitespace before it.
type lineScanner struct {
	b []byte
	i int
}

// skip skips whitespace and returns the next byte (0 at the end).
func (s *lineScanner) skip() byte {
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
	}
	return 0
}

// eat reads c, if it comes next.
func (s *lineScanner) eat(c byte) bool {
	if s.skip() != c || s.i == len(s.b) {
		return false
	}
	s.i++
	return true
}

// next reads the comma before another element (more), or the bracket
// that closes the list or object.
func (s *lineScanner) next(close byte) (more, ok bool) {
	if s.eat(',') {
		return true, true
	}
	return false, s.eat(close)
}

// ints reads a list of integers onto l.
func (s *lineScanner) ints(l []int64) ([]int64, bool) {
	if !s.eat('[') {
		return l, false
	}
	if s.eat(']') {
		return l, true
	}
	for more := true; more; {
		x, ok := s.int()
		if !ok {
			return l, false
		}
		l = append(l, x)
		if more, ok = s.next(']'); !ok {
			return l, false
		}
	}
	return l, true
}

// str reads a string of printable ASCII without escapes (anything else is
// left to histories' decoder).
func (s *lineScanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// int reads an integer that fits int64, without a leading zero, fraction
// or exponent.
func (s *lineScanner) int() (int64, bool) {
	s.skip()
	b := s.b[s.i:]
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	var n uint64
	d := 0
	for ; d < len(b) && b[d] >= '0' && b[d] <= '9'; d++ {
		n = n*10 + uint64(b[d]-'0')
	}
	switch {
	case d == 0 || (b[0] == '0' && d > 1):
		return 0, false // no digits, or a leading zero
	case d < len(b) && (b[d] == '.' || b[d] == 'e' || b[d] == 'E'):
		return 0, false
	case d > 18:
		// Might not fit: as histories' decoder, by strconv.
		start := s.i
		s.i += d
		if neg {
			s.i++
		}
		x, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
		return x, err == nil
	}
	s.i += d
	if neg {
		s.i++
		return -int64(n), true
	}
	return int64(n), true
}

// encValues are the values of a history read by ReadFile: ops kept whole
// have theirs; the others are decoded from the pieces' encoding.
type encValues struct {
	h  histories.History
	in *Ingested
	// gids are each piece's keys' ids in the parser (see rawVal.gid).
	gids [][]int32
	// drop is how far dropBefore has gone: the next op to look at, and
	// the first piece not dropped.
	drop *struct{ op, piece int }
}

func newEncValues(h histories.History, in *Ingested) encValues {
	v := encValues{h: h, in: in, gids: make([][]int32, len(in.pieces)), drop: new(struct{ op, piece int })}
	for k := range in.pieces {
		v.gids[k] = make([]int32, len(in.pieces[k].keys))
	}
	v.reset()
	return v
}

// reset forgets the keys' ids, for a new parser.
func (v encValues) reset() {
	for _, g := range v.gids {
		for i := range g {
			g[i] = -1
		}
	}
}

// at is op i's encoding and its piece, or nil if it has none.
func (v encValues) at(i int) ([]byte, int) {
	ref := v.in.refs[i]
	if ref == 0 {
		return nil, -1
	}
	k := int(ref>>32 - 1)
	return v.in.pieces[k].enc[uint32(ref):], k
}

// allEncoded says that every op of pairs has its micro-ops in the
// encoding: none was kept whole.
func (v encValues) allEncoded(pairs []histories.Pair) bool {
	for _, pr := range pairs {
		if v.in.refs[pr.Invoke] == 0 || pr.Complete >= 0 && v.in.refs[pr.Complete] == 0 {
			return false
		}
	}
	return true
}

// dropBefore drops the encoding of the pieces that hold only ops before
// op i (the pieces follow the ops' order), and marks in released.
func (v encValues) dropBefore(i int) {
	d := v.drop
	in := v.in
	in.released = true
	for ; d.op < i; d.op++ {
		if ref := in.refs[d.op]; ref != 0 {
			for k := int(ref>>32 - 1); d.piece < k; d.piece++ {
				in.pieces[d.piece].enc = nil
			}
		}
	}
}

// writes is how many elements the encoded ops write (see elemsHint).
func (v encValues) writes() int { return v.in.nwrites }

func (v encValues) count(i int) int {
	b, _ := v.at(i)
	if b == nil {
		return anyValues(v.h).count(i)
	}
	return int(b[0])
}

// uvarint is binary.Uvarint, quicker for one byte.
func uvarint(b []byte) (uint64, int) {
	if b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

func varint(b []byte) (int64, int) {
	u, n := uvarint(b)
	return int64(u>>1) ^ -int64(u&1), n
}

func (v encValues) mops(i int, d *mopBuf) bool {
	b, k := v.at(i)
	if b == nil {
		return anyMops(v.h[i].Value, d)
	}
	keys, gids := v.in.pieces[k].keys, v.gids[k]
	n := int(b[0])
	b = b[1:]
	d.ints = d.ints[:0]
	d.m = slices.Grow(d.m[:0], n)[:n]
	for j := range d.m {
		r := &d.m[j]
		tag := b[0]
		id, w := uvarint(b[1:])
		b = b[1+w:]
		key := &keys[id]
		*r = rawMop{list3: true, f: encNames[tag&encKind], fStr: true,
			key: rawVal{kind: rvStr, i: key.i, s: key.s, gid: &gids[id]}}
		if key.isInt {
			r.key.kind = rvInt
		}
		r.val.kind = tag / encVal
		switch r.val.kind {
		case rvInt:
			r.val.i, w = varint(b)
			b = b[w:]
		case rvList:
			l, w := uvarint(b)
			b = b[w:]
			start := len(d.ints)
			for range l {
				x, w := varint(b)
				d.ints, b = append(d.ints, x), b[w:]
			}
			// Earlier lists keep the array they were decoded into if
			// this append moves d.ints.
			r.val.ints = d.ints[start:len(d.ints):len(d.ints)]
		}
	}
	return true
}

// sameOps says that ops a and b have the same micro-ops but for the
// values read (as the parser compares an invocation with its
// completion), without decoding them.
func (v encValues) sameOps(a, b int) bool {
	ea, ka := v.at(a)
	eb, kb := v.at(b)
	if ea == nil || eb == nil || ea[0] != eb[0] {
		return false
	}
	keysA, keysB := v.in.pieces[ka].keys, v.in.pieces[kb].keys
	n := int(ea[0])
	ea, eb = ea[1:], eb[1:]
	for range n {
		ta, tb := ea[0], eb[0]
		ida, wa := uvarint(ea[1:])
		idb, wb := uvarint(eb[1:])
		if ta&encKind != tb&encKind || keysA[ida] != keysB[idb] {
			return false
		}
		ea, eb = ea[1+wa:], eb[1+wb:]
		la, lb := encValueLen(ea, ta), encValueLen(eb, tb)
		if ta&encKind != encRead && (ta != tb || !bytes.Equal(ea[:la], eb[:lb])) {
			return false
		}
		ea, eb = ea[la:], eb[lb:]
	}
	return true
}

// encValueLen is the length of the encoded value at the start of b, of a
// micro-op with tag.
func encValueLen(b []byte, tag byte) int {
	n := 0
	switch tag / encVal {
	case rvInt:
		_, n = uvarint(b)
	case rvList:
		l, w := uvarint(b)
		n = w
		for range l {
			_, w := uvarint(b[n:])
			n += w
		}
	}
	return n
}

func (v encValues) value(i int) any {
	if b, _ := v.at(i); b == nil {
		return v.h[i].Value
	}
	var d mopBuf
	v.mops(i, &d)
	out := make([]any, len(d.m))
	for j := range d.m {
		m := &d.m[j]
		out[j] = []any{m.f, m.key.any(), m.val.any()}
	}
	return out
}

// CheckIngested is Check of a history read by ReadFile, with what it
// ingested (nil: the history has its values). It uses in up: the encoded
// micro-ops are dropped once parsed, and a second check of the same in
// is an error (read the file again).
func CheckIngested(h histories.History, in *Ingested, opts Options) (checker.Result, error) {
	return CheckIngestedContext(context.Background(), h, in, opts)
}

// CheckIngestedContext is CheckContext of a history read by ReadFile.
func CheckIngestedContext(ctx context.Context, h histories.History, in *Ingested, opts Options) (checker.Result, error) {
	if in == nil {
		return CheckContext(ctx, h, opts)
	}
	if in.released {
		return checker.Result{}, errors.New("txn: the ingested transactions were already checked once, and released: read the file again")
	}
	if len(in.refs) != len(h) {
		return checker.Result{}, fmt.Errorf("txn: the history has %d ops but %d were ingested", len(h), len(in.refs))
	}
	if opts.Workload == "" {
		opts.Workload = in.workload
	}
	return check(ctx, h, opts, newEncValues(h, in))
}
