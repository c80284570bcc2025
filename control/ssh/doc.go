// Package ssh is the control backend whose nodes are hosts reached over
// SSH, as Jepsen reaches its nodes: faultline runs every command on a node
// through an SSH session, and installs its own binary there as the node
// agent (`<binary> agent VERB`), which starts, signals, inspects and reaps
// processes on the node's side.
//
// It registers itself as "ssh" (control.Register) from init; import it for
// its side effect, or call New and Attach directly.
//
// # Dependencies
//
//   - golang.org/x/crypto/ssh, the Go project's own SSH implementation, as
//     client: no ssh(1) process per command, typed exit statuses, sessions
//     multiplexed over one connection per node; x/crypto/ssh/agent to use
//     the keys of a running ssh-agent (SSH_AUTH_SOCK) without reading them.
//   - github.com/skeema/knownhosts, a thin layer over
//     x/crypto/ssh/knownhosts that also says which host key algorithms the
//     known_hosts file has for a host. The client must ask for exactly those:
//     with x/crypto's default preference a server with several host keys
//     presents, say, its ECDSA key, which an ed25519-only known_hosts entry
//     then rejects as a mismatch. It also handles @cert-authority lines and
//     wildcard patterns on non-standard ports the way OpenSSH does.
//   - github.com/kevinburke/ssh_config, a parser of ssh_config(5) files
//     that keeps ssh's rule that the first value obtained wins, so that
//     people reach their nodes as `ssh NODE` does: Host aliases, HostName,
//     User, Port, IdentityFile, IdentitiesOnly, HostKeyAlias and ProxyJump
//     are honoured. Match blocks and ProxyCommand are not (a ProxyCommand
//     without ProxyJump is an error rather than a silent direct
//     connection); StrictHostKeyChecking and UserKnownHostsFile are
//     replaced by the host-key and known-hosts options.
//
// # Nodes
//
// Nodes come from control.Config.Nodes. A node's Host defaults to its
// Name and may be an ssh config alias; its port is the spec's, else the
// config's, else 22; its user the spec's, else the config's, else option
// user (default root). Node.Addr, which partition rules name, is always an
// IP: the spec's addr (resolved if a name), else the address the
// connection reached, else (through ProxyJump) the host name resolved on
// the controller.
//
// # Connecting
//
// New resolves every node, then connects to all of them in parallel, one
// attempt each within connect-timeout, and verifies each host key against
// the known-hosts file (option host-key: verify refuses unknown hosts;
// accept-new adds them, but still refuses a changed key). Keys offered are,
// in order: the key option's file, the host's IdentityFiles from ssh
// config (else ~/.ssh/id_ed25519, id_ecdsa and id_rsa when nothing names a
// key), then ssh-agent's keys unless IdentitiesOnly. An encrypted key
// needs its passphrase from passphrase-env (the NAME of an environment
// variable) or passphrase-file: a passphrase is never an option, an
// argument or part of a plan, and never appears in an error or a log.
// When the login user is not root (sudo auto), `sudo -n true` must work.
//
// If any node fails, every connection is closed and New returns one error
// with a line per failed node naming user@host:port and the cause
// (ErrUnreachable, ErrUnknownHost, ErrHostKeyMismatch, ErrAuth,
// ErrSudoPassword, each with what to do about it); nothing has been made or
// started on any node. Only then does New make <home>/runs/<run id>/<node>
// (NodeDir) and install the agent at <home>/bin/faultline-<16 hex digits
// of the binary's SHA-256>, uploading (through a temporary file, chmod 755
// and rename) only where no file of the right size is there yet.
//
// # Connections
//
// Each node has one *ssh.Client. Sessions are bounded by max-sessions
// (default 8, below sshd's default MaxSessions of 10, leaving room for the
// sessions that kill cancelled commands); a process started by Start holds
// one for its life, and at most max-sessions−2 may, so commands always get
// through. sshd may refuse a session for a moment while it still counts
// one just closed: a refusal is retried with a short backoff.
// keepalive@openssh.com requests every keepalive interval notice a peer
// that vanished without a reset (three unanswered intervals close the
// connection). When opening a session fails on a transport error, the
// connection is dialled again with backoff (100 ms doubling to 5 s, for at
// most a minute and the caller's context): nothing had run yet. A command
// whose connection breaks while it runs is never run again: its error
// wraps ErrOutcomeUnknown.
//
// # Commands
//
// sshd always runs a command through the login user's shell with -c;
// faultline gives it one line that execs away at once:
//
//	printf 'faultline-pid %s\n' "$$" >&2; [cd DIR && ]exec [sudo -n --] /usr/bin/env -i
//	    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 [K=V…] PATH ARGS…
//
// with every word single-quoted (' as '\”), so no alias, function or
// variable of the login user reaches the command: it sees PATH, LANG and
// cmd.Env only. The login shell must be a POSIX shell. sshd starts it as
// `SHELL -c LINE`, which is not a login shell, but some shells still read
// a start-up file first (Debian's bash reads ~/.bashrc when run by sshd,
// zsh reads ~/.zshenv): whatever such a file prints ends up in the
// command's output, so it must print nothing to a non-interactive shell
// (Debian's default ~/.bashrc returns at once when not interactive). The first line on
// stderr is the command's pid, which the backend takes off before anyone
// sees stderr: sshd makes each session's command lead its own process
// group, so when a context ends the backend kills that group from a second
// session. A signal request alone would not do: OpenSSH refuses them on
// root logins ("session signalling requires privilege separation"), and
// sudo cannot pass SIGKILL on. cmd.Dir is entered before sudo, as the
// login user. An exit status of 127 wraps control.ErrNotFound.
//
// # Processes
//
// Start runs `<agent> spawn`, which starts the process in a session of
// its own with its output appended to cmd.LogPath, records it under
// NodeDir, and reports "started PID START" and later "exited CODE SIGNAL"
// over the SSH session. If that session breaks first, the process keeps
// running and is polled every second with `agent stat` (reconnecting as
// needed) until it has gone; its Wait then reports code -1. A process with
// cmd.Stdin or cmd.Stdout set (the long-running agent the controller
// talks to) runs in the session itself, its stdin and stdout piped, and
// ends with it. Signals go through `agent signal --group`, which refuses a
// recycled pid and waits for SIGSTOP to take effect; Adopt finds a process
// with `agent stat`. The piped-mode shell also makes the log's directory
// and reports a missing command before printing its pid.
//
// # Teardown, Disconnect and Attach
//
// Teardown kills the run's piped processes, runs `agent reap` on NodeDir
// (everything spawned there, with descendants), removes NodeDir and
// runs/<run id> if empty, and closes the connections; the agent binary
// stays for later runs. Disconnect only drops the connections (faultline
// cluster up, whose cluster outlives the command). Ref records each node's
// name, address, NodeDir, binary and {host, port, user}, and every option
// value (none is a secret); Attach connects again with the same checks,
// reuses those directories and binaries (installing the binary again where
// it has gone) and makes nothing else. The backend has no Sweep (a journal
// names everything it makes) and no default nodes (SSH needs an
// inventory).
//
// Tests use control/ssh/sshtest: real sshd servers in network namespaces.
package ssh
