package histories

import (
	"math"
	"strconv"
	"sync"
	"unicode/utf8"
)

// decodeFast decodes one history line without encoding/json: the recorder
// writes millions of lines of one simple shape, and reading them back is on
// the path of every check. It accepts exactly what the slow path accepts or
// reports failure (ok false), and then the caller decodes the line with
// encoding/json, whose error message names what is wrong. Strings with
// escapes go to the slow path too.
func decodeFast(b []byte, o *Op) (ok bool) {
	var d fastDecoder
	return d.decode(b, o)
}

// fastDecoder is decodeFast with state kept from line to line, for a reader
// of many lines (one per goroutine): a scratch stack that arrays are parsed
// onto, so each array is allocated once at its final size (cut from a slab
// shared by many arrays), and the short strings seen so far ("txn",
// "append", "r", keys, node names), so that a million ops share a handful
// of them. Field names and types are matched without being made strings.
type fastDecoder struct {
	stack []any
	strs  map[string]string
	slab  []any
	// slabs is how many slabs the decoder has allocated.
	slabs int
}

// slabSize is how many array elements a decoder allocates at once, at
// most: the short arrays of a history ([old new] of a cas, a txn's
// micro-ops) are cut from one allocation rather than made one by one.
// The ops whose arrays share a slab keep all of it, so a decoder's first
// slabs are small and grow to this: a decoder made for one line (as
// Op.UnmarshalJSON makes one) must not leave each op holding 16 KB.
const slabSize = 1024

// firstSlab is the size of a decoder's first slab; each next one is
// twice the last, up to slabSize.
const firstSlab = 16

// slice returns a new []any of n elements, its capacity n, so that an
// append to it copies rather than writing into its neighbour's elements.
func (d *fastDecoder) slice(n int) []any {
	if n > slabSize/8 {
		return make([]any, n)
	}
	if len(d.slab) < n {
		size := min(firstSlab<<min(d.slabs, 10), slabSize)
		d.slabs++
		d.slab = make([]any, max(size, n))
	}
	out := d.slab[:n:n]
	d.slab = d.slab[n:]
	return out
}

// maxInterned bounds the interned strings: past it, new ones are not kept
// (a history of unique strings must not grow a map as large as itself).
const maxInterned = 1 << 14

func (d *fastDecoder) decode(b []byte, o *Op) (ok bool) {
	p := fastParser{b: b, d: d}
	p.ws()
	if !p.eat('{') {
		return false
	}
	*o = Op{Index: -1}
	var haveProcess, haveType, haveF bool
	seen := 0
	p.ws()
	if p.eat('}') {
		return false // missing fields: let the slow path say which
	}
	for {
		p.ws()
		key, kok := p.raw()
		if !kok {
			return false
		}
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		var bit int
		switch string(key) { // no allocation, and the names are not interned
		case "index":
			bit = 1
			n, nok := p.int()
			if !nok {
				return false
			}
			o.Index = n
		case "time":
			bit = 2
			n, nok := p.int()
			if !nok {
				return false
			}
			o.Time = n
		case "process":
			bit = 4
			if p.peek() == '"' {
				s, sok := p.raw()
				if !sok || string(s) != "nemesis" {
					return false
				}
				o.Process = Nemesis
			} else {
				n, nok := p.int()
				if !nok || n < 0 || n > math.MaxInt32 {
					return false
				}
				o.Process = Process(n)
			}
			haveProcess = true
		case "type":
			bit = 8
			s, sok := p.raw()
			if !sok {
				return false
			}
			switch string(s) {
			case "invoke":
				o.Type = Invoke
			case "ok":
				o.Type = OK
			case "fail":
				o.Type = Fail
			case "info":
				o.Type = Info
			default:
				return false
			}
			haveType = true
		case "f":
			bit = 16
			s, sok := p.str()
			if !sok {
				return false
			}
			o.F = s
			haveF = true
		case "key":
			bit = 32
			switch c := p.peek(); {
			case c == '"':
				s, sok := p.str()
				if !sok {
					return false
				}
				o.Key = s
			case c == 'n':
				if !p.lit("null") {
					return false
				}
			default:
				start := p.i
				if _, nok := p.int(); !nok {
					return false
				}
				o.Key = p.d.intern(p.b[start:p.i])
			}
		case "value":
			bit = 64
			v, vok := p.value(0)
			if !vok {
				return false
			}
			o.Value = v
		case "node":
			bit = 128
			s, sok := p.str()
			if !sok {
				return false
			}
			o.Node = s
		case "error":
			bit = 256
			if p.peek() != '"' {
				return false
			}
			s, sok := p.str()
			if !sok {
				return false
			}
			o.Error = s
		default:
			return false
		}
		if seen&bit != 0 {
			return false // duplicate field: the slow path decides
		}
		seen |= bit
		p.ws()
		if p.eat(',') {
			continue
		}
		if !p.eat('}') {
			return false
		}
		break
	}
	p.ws()
	return p.i == len(p.b) && haveProcess && haveType && haveF
}

type fastParser struct {
	b []byte
	i int
	d *fastDecoder
}

// smallInts are the integers 0 … 65535 as interface values, made once:
// boxing an int64 into an any allocates (but for 0 … 255), and histories
// are made of small integers.
var smallInts = sync.OnceValue(func() []any {
	t := make([]any, 1<<16)
	for i := range t {
		t[i] = int64(i)
	}
	return t
})

func boxInt(n int64) any {
	if n >= 0 && n < 1<<16 {
		return smallInts()[n]
	}
	return n
}

func (p *fastParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *fastParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// str reads a string without escapes or control characters.
func (p *fastParser) str() (string, bool) {
	s, ok := p.raw()
	if !ok {
		return "", false
	}
	return p.d.intern(s), true
}

// raw reads a string without escapes or control characters, as the bytes
// between its quotes (valid UTF-8), which stay in the line.
func (p *fastParser) raw() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	var high byte // the OR of the bytes: ASCII needs no UTF-8 check
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if high >= 0x80 && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		high |= c
		p.i++
	}
	return nil, false
}

// intern returns s as a string, the same one for the same short bytes.
func (d *fastDecoder) intern(s []byte) string {
	if len(s) > 24 {
		return string(s)
	}
	if v, ok := d.strs[string(s)]; ok { // no allocation for the lookup
		return v
	}
	v := string(s)
	if d.strs == nil {
		d.strs = map[string]string{}
	}
	if len(d.strs) < maxInterned {
		d.strs[v] = v
	}
	return v
}

// int reads an integer that fits int64 (no fraction or exponent).
func (p *fastParser) int() (int64, bool) {
	start := p.i
	p.eat('-')
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || (p.b[digits] == '0' && p.i-digits > 1) { // no digits, or a leading zero
		return 0, false
	}
	if c := p.peek(); c == '.' || c == 'e' || c == 'E' {
		return 0, false
	}
	if p.i-digits <= 18 { // cannot overflow: add up the digits
		var n int64
		for _, c := range p.b[digits:p.i] {
			n = n*10 + int64(c-'0')
		}
		if digits > start {
			n = -n
		}
		return n, true
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return n, err == nil
}

// value reads null, true, false, an integer, a plain string, or an array of
// those; anything else (floats, objects, escapes) goes to the slow path.
func (p *fastParser) value(depth int) (any, bool) {
	if depth > 64 {
		return nil, false
	}
	switch c := p.peek(); {
	case c == 'n':
		return nil, p.lit("null")
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		n, ok := p.int()
		return boxInt(n), ok
	case c == '[':
		p.i++
		p.ws()
		if p.eat(']') {
			return []any{}, true
		}
		// The elements go on the decoder's stack, then into a slice of
		// their number.
		base := len(p.d.stack)
		defer func() { p.d.stack = p.d.stack[:base] }()
		for {
			p.ws()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			p.d.stack = append(p.d.stack, v)
			p.ws()
			if p.eat(',') {
				continue
			}
			if !p.eat(']') {
				return nil, false
			}
			out := p.d.slice(len(p.d.stack) - base)
			copy(out, p.d.stack[base:])
			clear(p.d.stack[base:]) // keep nothing alive from the stack
			return out, true
		}
	}
	return nil, false
}
