package targets

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/control"
)

// KillWait bounds how long Kill waits for a SIGKILLed process to be gone.
const KillWait = 30 * time.Second

// SignalLive signals p; a process that has just exited is not an error.
func SignalLive(p control.Process, sig syscall.Signal) error {
	if err := p.Signal(sig); err != nil && !errors.Is(err, control.ErrExited) {
		return err
	}
	return nil
}

// Kill sends SIGKILL to p and waits until it has gone. The wait outlives
// ctx's cancellation (bounded by KillWait): once the signal is sent, the
// process dies whatever the caller wants, and a kill that stopped waiting
// half-way would leave its node neither known to run nor known dead, so
// that the recovery that follows finds it "already running" and never
// starts it again.
func Kill(ctx context.Context, p control.Process) error {
	if err := SignalLive(p, syscall.SIGKILL); err != nil {
		return err
	}
	return WaitGone(ctx, p)
}

// WaitGone waits for p to exit, as Kill does: through ctx's cancellation,
// for at most KillWait.
func WaitGone(ctx context.Context, p control.Process) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), KillWait)
	defer cancel()
	_, err := p.Wait(wctx)
	return err
}
