package agent

import (
	"io"
	"os"
	"os/signal"
	"syscall"
)

// idle is the main process of a container that faultline made as a node:
// it holds the container up until SIGTERM or SIGINT, while the target's
// processes are started in it (agent spawn through the engine). As a
// container's first process it may be the init of a PID namespace: it
// reaps every child it inherits.
func init() {
	register("idle", "hold a container up until SIGTERM, reaping orphans", func(args []string, stdout, stderr io.Writer) int {
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
		for s := range sigs {
			if s != syscall.SIGCHLD {
				return exitOK
			}
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
		return exitOK
	})
}
