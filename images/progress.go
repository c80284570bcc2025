package images

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress writes whole lines, each prefixed with the image it is about, to
// a writer that may be nil; it is safe for concurrent use.
type progress struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
}

func newProgress(w io.Writer, name string) *progress {
	return &progress{w: w, mu: new(sync.Mutex), prefix: name + ": "}
}

// about is p for the image name.
func (p *progress) about(name string) *progress {
	return &progress{w: p.w, mu: p.mu, prefix: name + ": "}
}

func (p *progress) printf(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	line := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s%s\n", p.prefix, line)
}

// every calls f every d until the returned stop is called: a heartbeat for
// steps that print nothing for a while.
func every(d time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// since formats the time elapsed since start for people: 1m05s.
func since(start time.Time) string {
	d := time.Since(start).Round(time.Second)
	if d < time.Minute {
		return d.String()
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
