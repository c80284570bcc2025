package agent

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	nfqueue "github.com/florianl/go-nfqueue"
	"github.com/mdlayher/netlink"
)

// delayQueue is the netfilter queue number the delayer reads on a node;
// queue numbers are per network namespace.
const delayQueue = 7447

// delayer holds every packet netfilter queues to it in one namespace for
// delay ± jitter (uniform), then accepts it: netem's delay, in user space,
// for kernels without netem. Its iptables rule is added after it starts and
// uses --queue-bypass, and Stop accepts what it holds, so packets are
// delayed or pass, never lost, even if this process dies.
type delayer struct {
	delay, jitter time.Duration
	nf            *nfqueue.Nfqueue
	cancel        context.CancelFunc

	mu      sync.Mutex
	rng     *rand.Rand
	held    map[uint32]*time.Timer
	stopped bool
	pending sync.WaitGroup // releases scheduled and not yet done

	queued, failed atomic.Int64
}

// startDelayer starts a delayer on queue delayQueue in the agent's own
// network namespace (the node's). It runs inside the agent, under the
// agent's lease: if the agent dies, the rule's --queue-bypass lets packets
// through undelayed.
func startDelayer(delay, jitter time.Duration, seed uint64) (*delayer, error) {
	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:      delayQueue,
		MaxQueueLen:  1 << 16,
		Copymode:     nfqueue.NfQnlCopyMeta, // the packet id is all it needs
		Flags:        nfqueue.NfQaCfgFlagFailOpen,
		WriteTimeout: time.Second,
		Logger:       log.New(discard{}, "", 0),
	})
	if err != nil {
		return nil, fmt.Errorf("delayer: opening netfilter queue %d: %w", delayQueue, err)
	}
	// Lost notifications (a full socket buffer) must not end the reader;
	// fail-open lets the kernel accept what it could not queue.
	_ = nf.SetOption(netlink.NoENOBUFS, true)
	d := &delayer{delay: delay, jitter: jitter, nf: nf, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), held: map[uint32]*time.Timer{}}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if err := nf.RegisterWithErrorFunc(ctx, d.hook, d.onError); err != nil {
		cancel()
		nf.Close()
		return nil, fmt.Errorf("delayer: binding netfilter queue %d (is another delayer running on this node?): %w", delayQueue, err)
	}
	return d, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (d *delayer) wait() time.Duration {
	w := d.delay
	if d.jitter > 0 {
		w += time.Duration(d.rng.Int64N(int64(2*d.jitter)+1)) - d.jitter
	}
	return max(w, 0)
}

func (d *delayer) hook(a nfqueue.Attribute) int {
	if a.PacketID == nil {
		return 0
	}
	id := *a.PacketID
	d.queued.Add(1)
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		d.accept(id)
		return 0
	}
	d.pending.Add(1)
	d.held[id] = time.AfterFunc(d.wait(), func() { d.release(id) })
	d.mu.Unlock()
	return 0
}

func (d *delayer) onError(err error) int {
	var oe *netlink.OpError
	if errors.As(err, &oe) && (oe.Timeout() || errors.Is(oe.Err, os.ErrDeadlineExceeded)) {
		return 0
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, os.ErrDeadlineExceeded) {
		return 1
	}
	d.failed.Add(1)
	return 0
}

func (d *delayer) release(id uint32) {
	d.mu.Lock()
	_, ok := d.held[id]
	delete(d.held, id)
	d.mu.Unlock()
	if ok {
		d.accept(id)
		d.pending.Done()
	}
}

func (d *delayer) accept(id uint32) {
	if err := d.nf.SetVerdict(id, nfqueue.NfAccept); err != nil {
		d.failed.Add(1)
	}
}

// stop accepts every held packet at once and closes the queue. Remove the
// iptables rule first, so that nothing new arrives.
func (d *delayer) stop() {
	d.mu.Lock()
	d.stopped = true
	var now []uint32
	for id, t := range d.held {
		if t.Stop() {
			now = append(now, id)
			delete(d.held, id)
		}
		// A timer that has fired is releasing its packet right now.
	}
	d.mu.Unlock()
	for _, id := range now {
		d.accept(id)
		d.pending.Done()
	}
	d.pending.Wait()
	d.cancel()
	d.nf.Close()
}
