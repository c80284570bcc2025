// Package targets is the room of the systems under test: one sub-package
// per system (targets/etcd, …) that knows how to set a node up, start,
// stop, kill, pause and resume it, wipe its data, find its log files, and
// give a workload a client.
//
// The interfaces here are what the controller and the nemesis see of every
// target; a sub-package adds its own client and whatever else its
// workloads need. Nodes are reached only through a control.Cluster, so a
// target runs unchanged on the local, docker and ssh backends.
package targets
