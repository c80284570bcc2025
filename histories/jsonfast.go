package histories

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// decodeFast decodes one history line without encoding/json: the recorder
// writes millions of lines of one simple shape, and reading them back is on
// the path of every check. It accepts exactly what the slow path accepts or
// reports failure (ok false), and then the caller decodes the line with
// encoding/json, whose error message names what is wrong. Strings with
// escapes go to the slow path too.
func decodeFast(b []byte, o *Op) (ok bool) {
	p := fastParser{b: b}
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
		key, kok := p.str()
		if !kok {
			return false
		}
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		var bit int
		switch key {
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
				s, sok := p.str()
				if !sok || s != "nemesis" {
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
			s, sok := p.str()
			if !sok {
				return false
			}
			t, err := ParseType(s)
			if err != nil || (len(s) > 0 && s[0] == ':') {
				return false
			}
			o.Type = t
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
				o.Key = string(p.b[start:p.i])
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
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
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
		return p.int()
	case c == '[':
		p.i++
		out := []any{}
		p.ws()
		if p.eat(']') {
			return out, true
		}
		for {
			p.ws()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			out = append(out, v)
			p.ws()
			if p.eat(',') {
				continue
			}
			return out, p.eat(']')
		}
	}
	return nil, false
}
