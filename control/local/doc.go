// Package local is the control backend whose nodes are Linux network
// namespaces on this host: cheap hosts (a few milliseconds each) with their
// own addresses, routes and iptables, sharing the host's filesystem and
// process table. It needs root.
//
// # Topology
//
// One run (one Cluster) makes, all named with faultline's prefix and the
// run's six-character id so that two runs never clash and leftovers of a
// crashed run can be found by name:
//
//	fl-<id>-hub        a namespace holding the bridge flbr-<id>
//	fl-<id>-<node>     one namespace per node, e.g. fl-k3x9qa-n1, with eth0
//	                   (a veth whose peer <node> is a port of the bridge)
//	fl-<id>            a veth in the host namespace whose peer "host" is a
//	                   port of the bridge: the controller's address
//	/run/faultline/<id>.lock   held (flock) while the run is alive
//
// The bridge lives in its own namespace rather than on the host because on
// hosts with Docker (br_netfilter loaded, FORWARD policy DROP) bridged
// traffic between nodes passes through the host's FORWARD chain and is
// dropped; in the hub namespace it meets an empty firewall instead, and the
// host's firewall is never touched. Traffic between the controller and a
// node is local to the host (INPUT/OUTPUT), not forwarded.
//
// Nodes get addresses in a /24 that no host route or address covers (10.x
// first, then 172.16/12, then 192.168/16), picked under a host-wide lock so
// concurrent runs pick different subnets. Nodes have no default route: they
// reach each other and the controller, nothing else.
//
// # Processes
//
// A process starts inside its node's namespace by forking from an OS thread
// that has joined the namespace with setns(2); that thread is then thrown
// away (its goroutine exits while locked), so no other goroutine ever runs
// in a node's namespace by accident. This needs neither the ip command nor a
// re-exec of our own binary. Started processes get their own session, so a
// Ctrl-C at the controller's terminal reaches only the controller, which
// then tears down in order.
//
// Teardown and Cleanup find every process inside a run's namespaces, the
// ones faultline started and any they started in turn, by matching
// /proc/<pid>/ns/net against the namespace's inode, and kill them before
// deleting the namespaces (a namespace with a live process in it would
// outlive its name). Deleting a namespace also deletes its links and its
// iptables rules, so faults injected inside a node (faultline's own chains)
// go with it.
//
// # Dependencies
//
// Links, addresses and namespaces are made by internal/hostnet (shared with
// the SSH test fixture, control/ssh/sshtest) through netlink with
// github.com/vishvananda/netlink and github.com/vishvananda/netns (the
// libraries behind Docker's libnetwork and the CNI plugins) rather than by
// running ip(8): no dependency on iproute2 being installed, typed errors
// instead of parsed output, and one syscall instead of one process per step.
package local
