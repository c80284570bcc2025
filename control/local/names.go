package local

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/internal/hostnet"
)

// Prefix starts the name of everything this package makes on a host.
const Prefix = "fl-"

const (
	idLen    = 6
	idChars  = "abcdefghijklmnopqrstuvwxyz0123456789"
	hubName  = "hub"
	nodeLink = hostnet.NodeLink // a node's interface, inside its namespace
	hostPeer = hostnet.HostPeer // the hub-side end of the controller's veth
)

var (
	runIDRe    = regexp.MustCompile(`^[a-z0-9]{6}$`)
	nodeNameRe = regexp.MustCompile(`^[a-z][a-z0-9]{0,7}$`)
	// nsNameRe matches the namespaces of any run: fl-<id>-<node|hub>.
	nsNameRe = regexp.MustCompile(`^fl-([a-z0-9]{6})-([a-z][a-z0-9]{0,7})$`)
	// hostLinkRe matches the controller-side veth of any run: fl-<id>.
	hostLinkRe = regexp.MustCompile(`^fl-([a-z0-9]{6})$`)
)

// NewRunID returns a random run id: six lowercase letters and digits.
func NewRunID() string {
	b := make([]byte, idLen)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return string(b)
}

func checkRunID(id string) error {
	if !runIDRe.MatchString(id) {
		return fmt.Errorf("run id %q: want six lowercase letters or digits", id)
	}
	return nil
}

func checkNodeName(name string) error {
	if !nodeNameRe.MatchString(name) || name == hubName || name == hostPeer {
		return fmt.Errorf("node name %q: want a lowercase letter then up to 7 letters or digits, not %q or %q", name, hubName, hostPeer)
	}
	return nil
}

// NodeNames returns n1 … nN, Jepsen's names.
func NodeNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "n" + strconv.Itoa(i+1)
	}
	return names
}

// NamespaceName is the network namespace of node in run id.
func NamespaceName(id, node string) string { return Prefix + id + "-" + node }

func hubNamespace(id string) string { return NamespaceName(id, hubName) }

// bridgeName is at most 11 characters, inside the 15-character limit.
func bridgeName(id string) string { return "flbr-" + id }

// hostLinkName is the controller's veth: 9 characters.
func hostLinkName(id string) string { return Prefix + id }

// parseNamespace splits a namespace name of faultline's into run id and
// node (or "hub").
func parseNamespace(name string) (id, node string, ok bool) {
	m := nsNameRe.FindStringSubmatch(name)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// nodeLess orders node names naturally: n2 before n10.
func nodeLess(a, b string) bool {
	ta, na := splitNum(a)
	tb, nb := splitNum(b)
	if ta != tb {
		return ta < tb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitNum(s string) (string, int) {
	t := strings.TrimRight(s, "0123456789")
	n, _ := strconv.Atoi(s[len(t):])
	return t, n
}
