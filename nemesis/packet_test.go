package nemesis

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control/local"
)

// udpPeer is a UDP socket in a node: it counts what it receives and, if
// echo, sends it back.
type udpPeer struct {
	conn           *net.UDPConn
	packets, bytes atomic.Int64
}

func newUDPPeer(t *testing.T, c *local.Cluster, node string, port int, echo bool) *udpPeer {
	t.Helper()
	p := &udpPeer{}
	var err error
	inNetns(t, namespace(t, c, node), func() {
		p.conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(addr(c, node)), Port: port})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.conn.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := p.conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p.packets.Add(1)
			p.bytes.Add(int64(n))
			if echo {
				_, _ = p.conn.WriteToUDP(buf[:n], from)
			}
		}
	}()
	return p
}

// sender is a UDP socket in node a connected to b's peer on port.
func sender(t *testing.T, c *local.Cluster, a, b string, port int) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	var err error
	inNetns(t, namespace(t, c, a), func() {
		conn, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(addr(c, b)), Port: port})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// lossRate sends n datagrams, paced, and returns the fraction that did not
// arrive.
func lossRate(t *testing.T, conn *net.UDPConn, sink *udpPeer, n int) float64 {
	t.Helper()
	before := sink.packets.Load()
	msg := make([]byte, 100)
	for i := 0; i < n; i++ {
		_, _ = conn.Write(msg) // a dropped datagram may fail with EPERM
		if i%20 == 19 {
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	return 1 - float64(sink.packets.Load()-before)/float64(n)
}

// rtts pings the echoing peer n times and returns the round trips, sorted.
func rtts(t *testing.T, conn *net.UDPConn, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	buf := make([]byte, 64)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := conn.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Read(buf); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		out = append(out, time.Since(start))
	}
	slices.Sort(out)
	return out
}

// throughput sends 1000-byte datagrams at about 1 MB/s for d and returns
// the bytes that arrived.
func throughput(t *testing.T, conn *net.UDPConn, sink *udpPeer, d time.Duration) int64 {
	t.Helper()
	before := sink.bytes.Load()
	msg := make([]byte, 1000)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for range 10 {
			_, _ = conn.Write(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	return sink.bytes.Load() - before
}

func TestPacketLossDelayAndRate(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fl := NewFailer(newPacket(newEnv(t, c, nil)), nil)
	t.Cleanup(func() {
		if err := fl.Cleanup(context.Background()); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
		assertNoFaultlineRules(t, c)
	})
	rng := rand.New(rand.NewPCG(9, 9))
	sink := newUDPPeer(t, c, "n2", 7002, false)
	conn := sender(t, c, "n1", "n2", 7002)
	newUDPPeer(t, c, "n2", 7003, true)
	pinger := sender(t, c, "n1", "n2", 7003)
	n1 := SelectNamed("n1")

	t.Run("loss", func(t *testing.T) {
		const n = 4000
		if base := lossRate(t, conn, sink, n); base > 0.02 {
			t.Fatalf("%.1f%% lost before any fault", 100*base)
		}
		if _, err := fl.Inject(ctx, PacketArgs{Nodes: n1, Loss: 0.3}, rng); err != nil {
			t.Fatal(err)
		}
		lost := lossRate(t, conn, sink, n)
		if err := fl.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		after := lossRate(t, conn, sink, n)
		t.Logf("loss 0.3 on n1: %.1f%% of %d datagrams n1→n2 lost; %.1f%% after recovery", 100*lost, n, 100*after)
		// Binomial(4000, 0.3) has a standard deviation of 0.7%.
		if lost < 0.25 || lost > 0.35 {
			t.Errorf("lost %.1f%%, want about 30%%", 100*lost)
		}
		if after > 0.02 {
			t.Errorf("%.1f%% lost after recovery", 100*after)
		}
	})

	t.Run("delay", func(t *testing.T) {
		base := rtts(t, pinger, 20)
		act, err := fl.Inject(ctx, PacketArgs{Nodes: n1, Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond}, rng)
		if err != nil {
			t.Fatal(err)
		}
		delayed := rtts(t, pinger, 30)
		method := act.(*packetAction).Method
		if err := fl.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		after := rtts(t, pinger, 20)
		med := func(d []time.Duration) time.Duration { return d[len(d)/2].Round(10 * time.Microsecond) }
		t.Logf("delay 50ms ± 10ms on n1 (%s): RTT n1→n2→n1 median %v (min %v, max %v); %v before, %v after recovery",
			method, med(delayed), delayed[0].Round(10*time.Microsecond), delayed[len(delayed)-1].Round(10*time.Microsecond), med(base), med(after))
		if med(base) > 10*time.Millisecond || med(after) > 10*time.Millisecond {
			t.Errorf("RTT %v before, %v after: want a fast link without the fault", med(base), med(after))
		}
		// The jitter is uniform in ±10 ms; scheduling on a loaded machine
		// only adds.
		if delayed[0] < 39*time.Millisecond || med(delayed) < 45*time.Millisecond || med(delayed) > 120*time.Millisecond {
			t.Errorf("delayed RTTs %v, want about 50 ms", delayed)
		}
	})

	t.Run("rate", func(t *testing.T) {
		const d = 2 * time.Second
		if _, err := fl.Inject(ctx, PacketArgs{Nodes: n1, Rate: 64 << 10}, rng); err != nil {
			t.Fatal(err)
		}
		limited := throughput(t, conn, sink, d)
		if err := fl.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		free := throughput(t, conn, sink, d)
		t.Logf("rate 64 KiB/s on n1: %d KiB arrived in %v (a 64 KiB burst, then 64 KiB/s); %d KiB without the limit", limited>>10, d, free>>10)
		if limited > 320<<10 || limited < 96<<10 {
			t.Errorf("%d KiB arrived under a 64 KiB/s limit in %v", limited>>10, d)
		}
		if free < 2*limited || free < 400<<10 {
			t.Errorf("only %d KiB arrived without the limit", free>>10)
		}
	})
}
