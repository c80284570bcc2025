package agent

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// netemHandle marks faultline's netem qdisc: a prio root with a fourth
// band that only faultline's filters (one per peer) lead to, and netem on
// that band, so traffic to anything but the peers is not delayed.
const netemHandle = "40:"

func tc(args ...string) ([]byte, error) {
	out, err := exec.Command("tc", args...).CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return out, fmt.Errorf("tc is not installed on this node (apt-get install iproute2)")
	}
	if err != nil {
		return out, fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// routeDev is the device the node sends to addr through.
func routeDev(addr string) (string, error) {
	out, err := exec.Command("ip", "-o", "route", "get", addr).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ip route get %s: %v: %s", addr, err, strings.TrimSpace(string(out)))
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			return f[i+1], nil
		}
	}
	return "", fmt.Errorf("ip route get %s: no device in %q", addr, out)
}

func addNetem(dev string, delay, jitter time.Duration, peers []string) error {
	steps := [][]string{
		{"qdisc", "add", "dev", dev, "root", "handle", "1:", "prio", "bands", "4", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"},
		{"qdisc", "add", "dev", dev, "parent", "1:4", "handle", netemHandle, "netem", "delay", durMs(delay), durMs(jitter)},
	}
	for _, peer := range peers {
		steps = append(steps, []string{"filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", peer + "/32", "flowid", "1:4"})
	}
	for _, s := range steps {
		if _, err := tc(s...); err != nil {
			return err
		}
	}
	return nil
}

func durMs(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + "ms"
}

// delQdisc removes the root qdisc of dev if it is faultline's, and reports
// whether it did.
func delQdisc(dev string) (bool, error) {
	out, err := tc("qdisc", "show", "dev", dev)
	if err != nil {
		if strings.Contains(err.Error(), "not installed") {
			return false, nil // no tc, so no netem of ours
		}
		return false, err
	}
	if !strings.Contains(string(out), "qdisc netem "+netemHandle) {
		return false, nil
	}
	if _, err := tc("qdisc", "del", "dev", dev, "root"); err != nil {
		return false, err
	}
	return true, nil
}
