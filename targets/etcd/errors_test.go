package etcd

import (
	"context"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestDefinite(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"context ended before sending", fmt.Errorf("etcd write %q on n1: %w: %w", "k", ErrNotSent, context.Canceled), true},
		{"connection refused", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.200.1.11:2379: connect: connection refused"`), true},
		{"wrapped connection refused", fmt.Errorf("etcd cas: %w", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.200.1.11:2379: connect: connection refused"`)), true},
		{"member died while connecting", status.Error(codes.Unavailable, `connection error: desc = "error reading server preface: connection reset by peer"`), true},
		{"no address", status.Error(codes.Unavailable, "there is no address available"), true},
		{"too many requests", rpctypes.ErrTooManyRequests, true},
		{"too many requests, raw", rpctypes.ErrGRPCRequestTooManyRequests, true},
		{"timeout", fmt.Errorf("etcd write: %w", context.DeadlineExceeded), false},
		{"canceled after sending", context.Canceled, false},
		{"connection lost after sending", status.Error(codes.Unavailable, `connection error: desc = "error reading from server: EOF"`), false},
		{"transport closing", status.Error(codes.Unavailable, "transport is closing"), false},
		{"connection reset mid-request", status.Error(codes.Unavailable, "error reading from server: read tcp: connection reset by peer"), false},
		{"server timeout", rpctypes.ErrTimeout, false},
		{"leader changed", rpctypes.ErrLeaderChanged, false},
		{"no leader", rpctypes.ErrNoLeader, false},
		{"deadline from the server", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Definite(tt.err); got != tt.want {
				t.Errorf("Definite(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
