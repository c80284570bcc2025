package etcd

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestMemberConfigRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--name", "n1"}, "missing --data-dir, --listen-client-urls, --listen-peer-urls"},
		{[]string{"--name", "n1", "--data-dir", "d", "--listen-client-urls", "localhost:2379", "--listen-peer-urls", "http://127.0.0.1:2380"}, "--listen-client-urls"},
		{[]string{"--bogus"}, "flag provided but not defined"},
		{[]string{"--name", "n1", "extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		_, err := memberConfig(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("memberConfig(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// A single member on loopback serves a client, and stops cleanly when
// signalled (here: its context ends, as on SIGTERM).
func TestMemberServesAndStops(t *testing.T) {
	cp, pp := freePort(t), freePort(t)
	client := "http://127.0.0.1:" + strconv.Itoa(cp)
	peer := "http://127.0.0.1:" + strconv.Itoa(pp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- memberMain(ctx, []string{
			"--name", "solo", "--data-dir", t.TempDir(),
			"--listen-client-urls", client, "--listen-peer-urls", peer,
			"--log-level", "error", "--log-file", t.TempDir() + "/member.log",
		}, io.Discard)
	}()
	c, err := newClient("solo", []string{client}, 2*time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.Write(ctx, "k", 42)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member never served a write: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, err := c.Read(ctx, "k"); err != nil || v == nil || *v != 42 {
		t.Fatalf("Read = %v, %v; want 42", v, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("memberMain after its context ended: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("memberMain did not return 15 s after its context ended")
	}
}
