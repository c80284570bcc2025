// Package workloads defines what a workload is — a generator of operations,
// the way to perform one against a target's client, and the checks its
// history needs — and the registry of workloads by name. Each workload lives
// in its own sub-package and adds one line to the registry.
//
// A workload asks a target's client for the capability it needs through a
// small interface of its own (e.g. register.Client); a target that lacks it
// is refused when the plan is validated, not mid-run.
package workloads
