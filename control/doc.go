// Package control is how the controller reaches the nodes of a cluster: it
// lists them, starts long-running processes on them with their output
// captured to a log file, signals and waits for those processes, runs short
// commands in a node's context, and tears the cluster down.
//
// The interfaces are deliberately small (hashicorp/raft style): Cluster and
// Process are all a target needs. Capabilities that only some backends have
// are extra interfaces that a caller discovers with a type assertion, for
// example Transferer for copying files to and from nodes.
//
// Implementations live in sub-packages: control/local (network namespaces on
// this host). Docker and SSH backends are expected to follow the same shape.
//
// A controller that starts processes should call BecomeSubreaper early so
// that orphans of what it starts are re-parented to it and reaped promptly
// rather than by a slow PID 1.
package control
