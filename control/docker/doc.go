// Package docker is the control backend whose nodes are containers on the
// local Docker engine: either containers faultline makes for the run
// (create mode), or the containers of a user's Compose project, label or
// list (attach mode), which faultline never removes, recreates or
// reconfigures.
//
// It registers itself as "docker" (control.Register) from init.
//
// # Create mode
//
// One user-defined bridge network (fl-<run id>) and one container per node
// (fl-<run id>-<node>), every object labelled with faultline's run id, the
// controller that made it (pid, start time and boot id, so that heal can
// tell a dead run's objects from a live one's) and the node's name. Images
// are built locally and never pulled (package images): etcd's is FROM
// scratch with faultline's own static binary, PostgreSQL's a debootstrap
// Debian root filesystem with Debian's postgresql and faultline's binary.
//
// A container is the node, not the service: its first process is
// `/faultline agent idle`, and the target's processes are started in it
// through the engine's exec API by `agent spawn`, as over SSH. Containers
// share the host's PID namespace (PidMode host), so a pid is the same
// inside a container, on the host and in a target's pid file, and the
// host-side agent can signal, stop and ptrace the target's processes
// directly. The node's directory (the run's store directory,
// nodes/<node>) is bind-mounted into its container at the same path: the
// target's data and logs are written there and are in the store without a
// download; node files are the host's files (control.HostFS).
//
// # Attach mode
//
// --docker-project NAME (a Compose project, by its
// com.docker.compose.project and com.docker.compose.service labels, never
// by container names: Compose v1 and v2 name containers differently),
// --docker-label K=V, or --docker-containers a,b,c. The containers are the
// services: node names are the Compose services' (numbered when a service
// has several containers), or the containers' names. Targets run there as
// existing clusters (target option existing=true, service=container:
// kill and restart through the engine). A container with a restart
// policy is named in a warning (the run's log and its progress output):
// the engine starts it again when its first process dies of a kill that
// is not the engine's own (target option process=…), undoing the kill at
// once; a kill through the engine (service=container) counts as stopped
// by hand and stays (measured on engine 20.10, for always, unless-stopped
// and on-failure).
//
// # Faults
//
// faultline's agent for a container node runs on the host, in the
// container's network namespace (entered with setns through
// /proc/<pid>/ns/net of the container's first process) and in the host's
// PID namespace: iptables in faultline's own chains inside the container's
// namespace (never the nat table, where Docker's embedded DNS lives), the
// NFQUEUE delayer, SIGSTOP/SIGCONT and clock skew of the container's
// processes by host pid. Pause is SIGSTOP by default (the processes are in
// state T: a paused node stops completing TCP handshakes); with the
// backend option pause=freezer it is `docker pause` (the cgroup freezer).
// Kill and restart of an attached container go through the engine, and
// "unplug" disconnects a container from its network and connects it again
// with the same address and aliases (a Compose service's name is an alias
// its peers resolve). The engine takes a fixed address only on a network
// with a user-configured subnet: the run's own network has one; a user's
// network may not (Compose's default network has none), and there a
// container would come back with another address, so unplug is refused
// before the run on such a network (CanReplug asks the engine, by asking
// it to connect the container to the network it is on with its address,
// which it refuses either way, for a different reason). Should
// the engine still refuse the address when connecting a container again,
// it is connected without it rather than left disconnected, and the error
// says the address it came back with (internal/dockernet).
//
// # Never left behind
//
// Teardown (normal exit, Ctrl-C, error, panic) removes every container and
// the network of a created cluster; `faultline heal` finds those of crashed
// runs by label (Sweep) and removes them, and undoes faults left on
// attached containers from the run's journal (its agents' ledgers are on
// the host, under /var/lib/faultline/runs/<run id>).
//
// # Dependencies
//
// github.com/docker/docker/client, the engine's own Go client: typed
// requests and responses, API version negotiation (the engine here speaks
// API 1.41), the exec and archive APIs without a docker CLI on the host.
package docker
