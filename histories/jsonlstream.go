package histories

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// A JSONL history is read in chunks of whole lines, which goroutines decode
// in parallel while the next chunks are read: the file is never in memory
// whole (a compressed one neither), and the ops go straight to their place
// in the history. The reading goroutine splits each chunk into lines, so it
// knows the index of each chunk's first op; the decoders only decode.
const (
	firstChunk = 64 << 10 // a small history takes a small buffer
	maxChunk   = 4 << 20
)

// jsonlChunk is a buffer of whole lines and what the decoders need to
// place them.
type jsonlChunk struct {
	buf   []byte     // the buffer; data is buf[:n]
	data  []byte     // whole lines (the last one without its newline if final)
	spans []lineSpan // its non-blank lines
	ops   History    // where its ops go: the history's [base, base+len(spans))
	seq   int        // its place in the file
	final bool       // the last chunk of the input
}

// lineSpan is a non-blank line of a chunk: data[start:end], its number in
// the file.
type lineSpan struct{ start, end, line int }

// jsonlReader is one ReadJSONL: the chunks in flight and the first error.
type jsonlReader struct {
	file    string
	free    chan *jsonlChunk
	jobs    chan *jsonlChunk
	pending sync.WaitGroup // chunks sent and not yet decoded
	indexed atomic.Int64   // ops that carry an index

	mu       sync.Mutex
	errSeq   int   // the chunk of the first error, math.MaxInt if none
	err      error // the first bad line's *ParseError
	errLine  int
	tail     *TruncatedError // the first error is a cut-off last line
	errFound atomic.Bool
}

// readJSONLStream reads a JSONL history from r; size is the input's size
// if known (a plain file), for the history's capacity, else 0.
func readJSONLStream(r io.Reader, file string, size int64) (History, error) {
	workers := runtime.GOMAXPROCS(0)
	jr := &jsonlReader{file: file, errSeq: math.MaxInt,
		free: make(chan *jsonlChunk, 2*workers+1), jobs: make(chan *jsonlChunk)}
	for range cap(jr.free) {
		jr.free <- &jsonlChunk{}
	}
	var done sync.WaitGroup
	for range workers {
		done.Add(1)
		go func() {
			defer done.Done()
			var dec fastDecoder
			for c := range jr.jobs {
				jr.decode(&dec, c)
				jr.free <- c
				jr.pending.Done()
			}
		}()
	}
	h, n, err := jr.read(r, size)
	close(jr.jobs)
	done.Wait()
	if err != nil {
		return nil, &ParseError{File: file, Msg: "reading", Err: err}
	}
	h = h[:n:n]
	if jr.err != nil {
		if jr.tail == nil {
			return nil, jr.err
		}
		h = h[: n-1 : n-1] // the cut-off line's op, not decoded
	}
	if err := checkIndexes(h, file, int(jr.indexed.Load())); err != nil {
		return nil, err
	}
	if jr.tail != nil {
		jr.tail.History = h
		return nil, jr.tail
	}
	return h, nil
}

// read reads r chunk by chunk and hands each to the decoders; it returns
// the history (of n ops) once every chunk is decoded.
func (jr *jsonlReader) read(r io.Reader, size int64) (h History, n int, err error) {
	want := firstChunk
	if size > 0 {
		want = int(min(size+1, maxChunk))
	}
	c := jr.chunk(want, nil)
	line := 1
	consumed := int64(0) // bytes in the chunks sent so far
	for seq := 0; ; seq++ {
		// Fill the buffer, behind what the previous chunk left over.
		eof := false
		fill := len(c.data)
		for fill < len(c.buf) {
			m, rerr := r.Read(c.buf[fill:])
			fill += m
			if rerr == io.EOF {
				eof = true
				break
			}
			if rerr != nil {
				jr.pending.Wait()
				return nil, 0, rerr
			}
		}
		data := c.buf[:fill]
		cut := len(data)
		if !eof {
			cut = bytes.LastIndexByte(data, '\n') + 1
			if cut == 0 { // a line longer than the buffer: a bigger one
				c = jr.grow(c, fill, 2*len(c.buf))
				seq--
				continue
			}
		}
		// The next chunk starts with the partial line after the cut.
		want = min(2*want, maxChunk)
		var next *jsonlChunk
		if !eof {
			next = jr.chunk(max(want, 2*(fill-cut)), data[cut:])
		}
		c.data, c.seq, c.final = data[:cut], seq, eof
		line = c.split(line)
		consumed += int64(cut)
		if need := n + len(c.spans); need > len(h) {
			jr.pending.Wait() // no decoder writes into h while it moves
			h = grown(h, n, need, consumed, size, eof)
		}
		c.ops = h[n : n+len(c.spans)]
		n += len(c.spans)
		jr.pending.Add(1)
		jr.jobs <- c
		if eof {
			jr.pending.Wait()
			return h, n, nil
		}
		c = next
	}
}

// grown is h (of n ops so far) with room for at least need: as many ops as
// the whole input holds at the rate so far when its size is known (with a
// little to spare, so that it is not outgrown at the end), else twice need.
func grown(h History, n, need int, consumed, size int64, eof bool) History {
	capacity := need
	switch {
	case eof:
	case size > consumed:
		capacity = int(float64(need)*float64(size)/float64(consumed)*1.02) + 64
	default:
		capacity = 2 * need
	}
	g := make(History, capacity)
	copy(g, h[:n])
	return g
}

// chunk takes a free chunk whose buffer holds at least want bytes and
// starts with carry.
func (jr *jsonlReader) chunk(want int, carry []byte) *jsonlChunk {
	c := <-jr.free
	if cap(c.buf) < want {
		c.buf = make([]byte, want)
	}
	c.buf = c.buf[:cap(c.buf)]
	c.data = c.buf[:copy(c.buf, carry)]
	return c
}

// grow gives c a buffer of size bytes holding the fill bytes it had.
func (jr *jsonlReader) grow(c *jsonlChunk, fill, size int) *jsonlChunk {
	b := make([]byte, size)
	copy(b, c.buf[:fill])
	c.buf, c.data = b, b[:fill]
	return c
}

// split finds c's non-blank lines; line is the number of its first, and
// the number after its last is returned.
func (c *jsonlChunk) split(line int) int {
	data := c.data
	c.spans = c.spans[:0]
	for pos := 0; pos < len(data); line++ {
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += pos
		}
		if !blank(data[pos:end]) {
			c.spans = append(c.spans, lineSpan{pos, end, line})
		}
		pos = end + 1
	}
	return line
}

// blank says a line is only white space (bytes.TrimSpace's).
func blank(b []byte) bool {
	if len(b) > 0 && b[0] > ' ' && b[0] < 0x80 {
		return false // the usual line: it starts with '{'
	}
	return len(bytes.TrimSpace(b)) == 0
}

// decode decodes a chunk's lines into its ops, up to the first bad one,
// unless a chunk before it already had a bad line.
func (jr *jsonlReader) decode(dec *fastDecoder, c *jsonlChunk) {
	if jr.errFound.Load() && jr.firstBad() < c.seq {
		return
	}
	prefault(c.ops) // here rather than in the reading goroutine: in parallel
	indexed := 0
	for i, sp := range c.spans {
		o := &c.ops[i]
		text := bytes.TrimSpace(c.data[sp.start:sp.end])
		if err := dec.unmarshal(text, o); err != nil {
			jr.indexed.Add(int64(indexed))
			jr.fail(c, i, text, &ParseError{File: jr.file, Line: sp.line, Msg: "bad op", Err: err})
			return
		}
		o.Line = int32(sp.line)
		if o.Index >= 0 {
			indexed++
		}
	}
	jr.indexed.Add(int64(indexed))
}

func (jr *jsonlReader) firstBad() int {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	return jr.errSeq
}

// fail records a bad line i of chunk c, if it is the first in the file so
// far. The last line, with no newline after it, that is the start of a
// JSON object ending too soon was cut off: a TruncatedError.
func (jr *jsonlReader) fail(c *jsonlChunk, i int, text []byte, err *ParseError) {
	sp := c.spans[i]
	var tail *TruncatedError
	if c.final && i == len(c.spans)-1 && sp.end == len(c.data) && text[0] == '{' && !json.Valid(text) {
		tail = &TruncatedError{File: jr.file, Line: sp.line, Bytes: sp.end - sp.start, Err: err}
	}
	jr.mu.Lock()
	defer jr.mu.Unlock()
	if c.seq < jr.errSeq || (c.seq == jr.errSeq && sp.line < jr.errLine) {
		jr.errSeq, jr.errLine, jr.err, jr.tail = c.seq, sp.line, err, tail
		jr.errFound.Store(true)
	}
}

// checkIndexes numbers a history whose ops carry no index by position, and
// rejects one where only some do.
func checkIndexes(h History, file string, indexed int) error {
	if indexed == 0 {
		h.Renumber()
		return nil
	}
	if indexed != len(h) {
		for _, op := range h {
			if op.Index < 0 {
				return errAt(file, int(op.Line), "op has no index while others do")
			}
		}
	}
	return nil
}
