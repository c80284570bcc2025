package histories

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// wireOp is the JSONL form of an Op, decoded strictly: unknown fields are
// errors (a typo must not silently drop data).
type wireOp struct {
	Index   *int64          `json:"index"`
	Time    *int64          `json:"time"`
	Process *Process        `json:"process"`
	Type    *Type           `json:"type"`
	F       *string         `json:"f"`
	Key     json.RawMessage `json:"key"`
	Value   any             `json:"value"`
	Node    string          `json:"node"`
	Error   any             `json:"error"`
}

// UnmarshalJSON decodes one history line, normalising the value. To
// decode many lines one at a time, a Decoder shares its allocations
// across them.
func (o *Op) UnmarshalJSON(b []byte) error {
	var d fastDecoder
	return d.unmarshal(b, o)
}

// A Decoder decodes history lines one at a time, as Op.UnmarshalJSON
// does, but with the allocations of many lines shared (small arrays cut
// from larger blocks, strings such as nodes and errors interned): a run's
// online check decodes every line it records. The ops it decodes may share
// memory with each other, never with the lines. Not safe for concurrent
// use.
type Decoder struct{ d fastDecoder }

// Decode decodes one line into o.
func (d *Decoder) Decode(line []byte, o *Op) error { return d.d.unmarshal(line, o) }

// unmarshal decodes one line: the fast way if it can, else encoding/json's
// strict way, whose errors say what is wrong.
func (d *fastDecoder) unmarshal(b []byte, o *Op) error {
	if d.decode(b, o) {
		return nil
	}
	return o.unmarshalSlow(b)
}

// unmarshalSlow is encoding/json's strict decoding, with its error messages.
func (o *Op) unmarshalSlow(b []byte) error {
	var w wireOp
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		return err
	}
	if d.More() {
		return errors.New("more than one JSON value on the line")
	}
	switch {
	case w.Process == nil:
		return errors.New(`missing "process"`)
	case w.Type == nil:
		return errors.New(`missing "type"`)
	case w.F == nil:
		return errors.New(`missing "f"`)
	}
	*o = Op{Process: *w.Process, Type: *w.Type, F: *w.F, Node: w.Node}
	if w.Index != nil {
		o.Index = *w.Index
	} else {
		o.Index = -1
	}
	if w.Time != nil {
		o.Time = *w.Time
	}
	if len(w.Key) > 0 && string(w.Key) != "null" {
		if w.Key[0] == '"' {
			if err := json.Unmarshal(w.Key, &o.Key); err != nil {
				return fmt.Errorf("key: %w", err)
			}
		} else if _, err := strconv.ParseFloat(string(w.Key), 64); err == nil {
			o.Key = string(w.Key)
		} else {
			return fmt.Errorf("key must be a string or a number, not %s", w.Key)
		}
	}
	v, err := normalizeJSON(w.Value)
	if err != nil {
		return fmt.Errorf("value: %w", err)
	}
	o.Value = v
	if w.Error != nil {
		if s, ok := w.Error.(string); ok {
			o.Error = s
		} else {
			ev, _ := normalizeJSON(w.Error)
			o.Error = FormatValue(ev)
		}
	}
	return nil
}

// normalizeJSON turns json.Number into int64 (or float64 when not integral)
// throughout a decoded value.
func normalizeJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s out of range", x)
		}
		return f, nil
	case []any:
		for i, e := range x {
			n, err := normalizeJSON(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			n, err := normalizeJSON(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	}
	return v, nil
}

// ReadJSONL reads faultline's history.jsonl: one op per line. Blank lines
// are skipped. Ops without an index are numbered by position. A last line
// cut off mid-op (no newline after it: a writer that crashed mid-write) is
// a *TruncatedError carrying every complete op before it, so a caller can
// check those and say what was dropped; a bad line anywhere else is an
// error naming the line. The input is read in chunks of whole lines, which
// are decoded in parallel, one chunk per CPU at a time, as the next ones
// are read (see readJSONLStream).
func ReadJSONL(r io.Reader, file string) (History, error) {
	return readJSONLStream(r, file, 0)
}

// TruncatedError says a history's last line was cut off mid-op, as a
// writer that crashed mid-write leaves it. History holds every complete
// op before it.
type TruncatedError struct {
	File    string
	Line    int
	Bytes   int
	Err     error
	History History
}

func (e *TruncatedError) Error() string {
	why := e.Err
	var pe *ParseError
	if errors.As(why, &pe) && pe.Err != nil {
		why = pe.Err // without the place, said already
	}
	return fmt.Sprintf("%s:%d: the last line (%d bytes) is cut off mid-op, as a writer that crashed leaves it: %v", e.File, e.Line, e.Bytes, why)
}

func (e *TruncatedError) Unwrap() error { return e.Err }

// AppendJSON appends op's JSONL encoding (without newline) to b. It is the
// recorder's hot path, so it writes the fixed fields by hand.
func AppendJSON(b []byte, op *Op) ([]byte, error) {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, op.Index, 10)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, op.Time, 10)
	b = append(b, `,"process":`...)
	if op.Process == Nemesis {
		b = append(b, `"nemesis"`...)
	} else {
		b = strconv.AppendInt(b, int64(op.Process), 10)
	}
	b = append(b, `,"type":"`...)
	b = append(b, op.Type.String()...)
	b = append(b, `","f":`...)
	b = appendJSONString(b, op.F)
	if op.Key != "" {
		b = append(b, `,"key":`...)
		b = appendJSONString(b, op.Key)
	}
	b = append(b, `,"value":`...)
	var err error
	if b, err = appendJSONValue(b, op.Value); err != nil {
		return b, err
	}
	if op.Node != "" {
		b = append(b, `,"node":`...)
		b = appendJSONString(b, op.Node)
	}
	if op.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, op.Error)
	}
	return append(b, '}'), nil
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case string:
		return appendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONValue(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return b, fmt.Errorf("value %v: %w", v, err)
	}
	return append(b, js...), nil
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			js, _ := json.Marshal(s)
			return append(b, js...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// WriteJSONL writes h as JSONL.
func WriteJSONL(w io.Writer, h History) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var buf []byte
	for i := range h {
		var err error
		buf, err = AppendJSON(buf[:0], &h[i])
		if err != nil {
			return err
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}
