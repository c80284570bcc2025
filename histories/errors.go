package histories

import "fmt"

// ParseError is bad input at a place in a file. Its message reads
// "FILE:LINE: what is wrong", so that an editor can jump to it.
type ParseError struct {
	File string // may be empty when reading from a stream
	Line int    // 1-based; 0 when the whole file is at fault
	Msg  string
	Err  error // the cause, if any
}

func (e *ParseError) Error() string {
	where := e.File
	if where == "" {
		where = "<input>"
	}
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d", where, e.Line)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", where, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", where, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

func errAt(file string, line int, format string, args ...any) *ParseError {
	return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}
