// Package hostnet makes network namespaces on this host joined by a bridge
// in a hub namespace, and holds the pieces around that: named namespaces,
// joining one from a thrown-away OS thread, picking a subnet that nothing
// on the host routes, and host-wide directory locks. It serves control/local
// (whose nodes are these namespaces) and the SSH test fixture
// control/ssh/sshtest (whose sshd nodes run in them); each names what it
// makes with its own prefix, so neither ever takes the other's for its own.
//
// # Topology
//
// Build makes, under names the caller chooses:
//
//	Topology.Hub        a namespace holding the bridge Topology.Bridge
//	Node.Namespace      one namespace per node with NodeLink (eth0), a veth
//	                    whose peer Node.Name is a port of the bridge; lo up
//	Topology.HostLink   a veth in the host namespace carrying
//	                    Topology.HostAddr, whose peer HostPeer ("host") is a
//	                    port of the bridge
//
// The bridge lives in its own namespace rather than on the host because on
// hosts with Docker (br_netfilter loaded, FORWARD policy DROP) bridged
// traffic between nodes passes through the host's FORWARD chain and is
// dropped; in the hub namespace it meets an empty firewall instead, and the
// host's firewall is never touched. Nodes get no default route.
//
// Named namespaces are bind mounts under /run/netns, as `ip netns add`
// makes them, so `ip netns list` shows them and `ip netns exec` works.
//
// # Dependencies
//
// Links, addresses and namespaces are made through netlink with
// github.com/vishvananda/netlink and github.com/vishvananda/netns (the
// libraries behind Docker's libnetwork and the CNI plugins) rather than by
// running ip(8): no dependency on iproute2 being installed, typed errors
// instead of parsed output, and one syscall instead of one process per step.
package hostnet
