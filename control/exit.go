package control

import (
	"context"
	"fmt"
	"sync"
)

// Exit is how a Process ends, for backends to embed: Done is closed, and
// WaitExit returns, once Finish has recorded the exit (the first call
// wins).
type Exit struct {
	mu     sync.Mutex
	done   chan struct{}
	closed bool
	status ExitStatus
	err    error
}

func (e *Exit) ch() chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done == nil {
		e.done = make(chan struct{})
	}
	return e.done
}

// Done implements Process.
func (e *Exit) Done() <-chan struct{} { return e.ch() }

// Finish records how the process ended and closes Done; it reports
// whether this call did (a later call changes nothing).
func (e *Exit) Finish(st ExitStatus, err error) bool {
	ch := e.ch()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.closed = true
	e.status, e.err = st, err
	close(ch)
	return true
}

// WaitExit blocks until Finish or until ctx ends; what names the process
// in the error ("pid 12 on n1").
func (e *Exit) WaitExit(ctx context.Context, what string) (ExitStatus, error) {
	select {
	case <-e.ch():
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.status, e.err
	case <-ctx.Done():
		return ExitStatus{}, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	}
}

// Exited reports whether the process has ended (Finish was called).
func (e *Exit) Exited() bool {
	select {
	case <-e.ch():
		return true
	default:
		return false
	}
}
