package histories

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// Recorder streams a history to a JSONL file as it happens: every op is
// encoded and written with one write(2) before Record returns, so a crash of
// the controller leaves a readable history up to the crash. It is safe for
// concurrent workers. Times are nanoseconds since the recorder was created,
// on the monotonic clock, taken under the same lock that assigns indexes, so
// index order and time order agree.
type Recorder struct {
	mu    sync.Mutex
	f     *os.File
	buf   []byte
	next  int64
	start time.Time
	err   error
	count int64
	tee   func(Op, []byte)
}

// Create creates (truncating) a history file and starts the clock.
func Create(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create history: %w", err)
	}
	return &Recorder{f: f, start: time.Now(), buf: make([]byte, 0, 512)}, nil
}

// Start is the instant time 0 of the history.
func (r *Recorder) Start() time.Time { return r.start }

// Now is the current history time in nanoseconds.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Record stamps op with the next index and the current time, writes it, and
// returns the stamped op. After a write error every later Record returns
// that error: a history with a hole must not look whole.
func (r *Recorder) Record(op Op) (Op, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return op, r.err
	}
	op.Index = r.next
	op.Time = int64(time.Since(r.start))
	buf, err := AppendJSON(r.buf[:0], &op)
	if err != nil {
		// An unencodable value is the caller's bug; record the op with its
		// value as text rather than lose it.
		op.Value = FormatValue(op.Value)
		buf, _ = AppendJSON(r.buf[:0], &op)
	}
	buf = append(buf, '\n')
	r.buf = buf
	if _, err := r.f.Write(buf); err != nil {
		r.err = fmt.Errorf("write history: %w", err)
		return op, r.err
	}
	r.next++
	r.count++
	if r.tee != nil {
		r.tee(op, buf[:len(buf)-1])
	}
	return op, nil
}

// Tee makes every op recorded from now on also go to f, in index order,
// once it is written, with its line as written (without the newline; the
// bytes are the recorder's, valid only during the call). f runs under the
// recorder's lock: it must be quick, e.g. append to a queue that another
// goroutine works through. An online checker consumes the history this way
// as it is recorded.
func (r *Recorder) Tee(f func(op Op, line []byte)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tee = f
}

// Count is the number of ops recorded.
func (r *Recorder) Count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Close syncs and closes the file.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return r.err
	}
	err := r.f.Sync()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.f = nil
	if r.err == nil {
		r.err = fmt.Errorf("recorder closed")
		return err
	}
	return err
}
