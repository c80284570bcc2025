package etcd

import (
	"errors"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrNotSent means a request was never sent: its context had ended before
// the client sent it.
var ErrNotSent = errors.New("etcd request not sent")

// ErrNoWrite means an operation of several requests failed before it sent
// any request that could change anything: a transfer whose read of the
// balances failed, a dequeue whose read of the head failed, a release of a
// lock the client does not hold.
var ErrNoWrite = errors.New("nothing written")

// Definite reports whether err means that the failed request certainly did
// not take effect, so a history may record it as "fail"; otherwise the
// request may have taken effect, now or later ("info"). It is
// conservative: only errors raised before the request reached a server,
// or that a server raises before proposing anything, count.
//
//   - ErrNotSent: the context had ended before sending;
//   - ErrNoWrite: an operation of several requests failed before its
//     first write;
//   - gRPC Unavailable raised while connecting (connection refused, no
//     route, dial timeout) or because no connection was ready: the client
//     fails fast instead of waiting for a connection, so such a request
//     never left;
//   - etcdserver: too many requests: rejected before being proposed.
//
// Timeouts, cancellations after sending, leader changes, "transport is
// closing" and everything else are not definite. Reads change nothing, so
// a workload may record any failed read as "fail" without asking.
func Definite(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNotSent) || errors.Is(err, ErrNoWrite) || errors.Is(err, rpctypes.ErrTooManyRequests) || errors.Is(err, rpctypes.ErrGRPCRequestTooManyRequests) {
		return true
	}
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.Unavailable {
		return false
	}
	msg := s.Message()
	for _, m := range notSentMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// notSentMessages are what gRPC says when an RPC failed without a
// transport to send it on: each names a failure before a connection became
// ready, and a fail-fast RPC is only ever sent on a ready one. (Failures of
// a ready connection, which may have carried the RPC, read "error reading
// from server", "transport is closing" and the like.)
var notSentMessages = []string{
	"Error while dialing",         // connection error: desc = "transport: Error while dialing: dial tcp …"
	"connect: connection refused", // the same, in other wrappings
	"connect: no route to host",   // the same
	"connect: network is unreachable",
	// The transport never became ready (a member dying as we connected),
	// and RPCs are only sent on ready transports.
	"error reading server preface",
	"failed to write client preface",
	"there is no address available",    // etcd's balancer had no endpoint
	"there is no connection available", // etcd's balancer had no ready connection
}
