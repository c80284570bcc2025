package ssh

import (
	"errors"
	"sort"
	"strings"
)

// Why a node could not be reached; a *ConnectError wraps one of them.
var (
	// ErrUnreachable: no TCP connection or SSH handshake within the
	// connect timeout (dial error, refused, timed out).
	ErrUnreachable = errors.New("unreachable")
	// ErrUnknownHost: the host is not in the known_hosts file.
	ErrUnknownHost = errors.New("unknown host")
	// ErrHostKeyMismatch: the host offered a key other than the one(s) the
	// known_hosts file has for it.
	ErrHostKeyMismatch = errors.New("host key mismatch")
	// ErrAuth: the server accepted none of the keys offered.
	ErrAuth = errors.New("authentication failed")
	// ErrSudoPassword: the login user is not root and `sudo -n true`
	// fails because sudo wants a password.
	ErrSudoPassword = errors.New("sudo needs a password")
	// ErrDisconnected: Disconnect dropped the cluster's connections.
	ErrDisconnected = errors.New("ssh cluster disconnected")
)

// ConnectError says why one node could not be reached or used.
type ConnectError struct {
	// Node is the node's name; Target is user@host:port.
	Node, Target string
	Err          error
}

func (e *ConnectError) Error() string {
	return e.Node + " (" + e.Target + "): " + e.Err.Error()
}

func (e *ConnectError) Unwrap() error { return e.Err }

// connectErrors is New's error when some nodes failed: one line per node.
type connectErrors struct {
	total int
	errs  []*ConnectError
}

func (e *connectErrors) Error() string {
	sort.Slice(e.errs, func(i, j int) bool { return e.errs[i].Node < e.errs[j].Node })
	var b strings.Builder
	b.WriteString("ssh: cannot use ")
	if len(e.errs) == 1 {
		b.WriteString("1 node")
	} else {
		b.WriteString(itoa(len(e.errs)) + " nodes")
	}
	b.WriteString(" of " + itoa(e.total) + " (nothing was installed or started on any node):")
	for _, ce := range e.errs {
		b.WriteString("\n  " + ce.Error())
	}
	return b.String()
}

func (e *connectErrors) Unwrap() []error {
	out := make([]error, len(e.errs))
	for i, ce := range e.errs {
		out[i] = ce
	}
	return out
}
