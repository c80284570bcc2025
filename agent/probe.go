package agent

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Facts are what a node can do, as its agent finds them: what faults need
// is checked against them before a test sets anything up.
type Facts struct {
	Arch   string `json:"arch"`
	Kernel string `json:"kernel"`
	Root   bool   `json:"root"`
	// Tools found on the node's PATH.
	Iptables        bool `json:"iptables"`
	IptablesRestore bool `json:"iptables_restore"`
	Tc              bool `json:"tc"`
	IP              bool `json:"ip"`
	// Netem says tc can add a netem qdisc (built in, loaded or loadable);
	// Nfqueue that netfilter can queue packets to the agent.
	Netem   bool `json:"netem"`
	Nfqueue bool `json:"nfqueue"`
	// Ptrace says the agent may ptrace the node's processes (clock skew);
	// PtraceWhy says why not.
	Ptrace    bool   `json:"ptrace"`
	PtraceWhy string `json:"ptrace_why,omitempty"`
	// Systemd says systemd runs the node (systemctl can manage units).
	Systemd bool `json:"systemd"`
}

func init() {
	register("probe", "print what this node can do, as JSON", func(args []string, stdout, stderr io.Writer) int {
		f := probe()
		b, _ := jsonMarshal(f)
		stdout.Write(append(b, '\n'))
		return exitOK
	})
}

func has(tool string) bool {
	_, err := exec.LookPath(tool)
	return err == nil
}

func probe() Facts {
	f := Facts{Arch: runtime.GOARCH, Root: os.Geteuid() == 0}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		f.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	f.Iptables, f.IptablesRestore, f.Tc, f.IP = has("iptables"), has("iptables-restore"), has("tc"), has("ip")
	f.Netem = kernelHas(f.Kernel, "sch_netem", "CONFIG_NET_SCH_NETEM")
	f.Nfqueue = exists("/proc/net/netfilter/nfnetlink_queue") || kernelHas(f.Kernel, "nfnetlink_queue", "CONFIG_NETFILTER_NETLINK_QUEUE")
	switch {
	case runtime.GOARCH != "amd64":
		f.PtraceWhy = "clock skew patches x86-64 code; this node is " + runtime.GOARCH
	case !f.Root:
		f.PtraceWhy = "the agent does not run as root"
	default:
		scope, _ := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
		if strings.TrimSpace(string(scope)) == "3" {
			f.PtraceWhy = "kernel.yama.ptrace_scope is 3 (no ptrace at all)"
		} else {
			f.Ptrace = true
		}
	}
	f.Systemd = exists("/run/systemd/system") && has("systemctl")
	return f
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// kernelHas reports whether the kernel has module (loaded, built in, or
// loadable) or config option set to y or m.
func kernelHas(release, module, option string) bool {
	if exists("/sys/module/" + module) {
		return true
	}
	if b, err := os.ReadFile("/lib/modules/" + release + "/modules.dep"); err == nil && bytes.Contains(b, []byte("/"+module+".ko")) {
		return true
	}
	if b, err := os.ReadFile("/lib/modules/" + release + "/modules.builtin"); err == nil && bytes.Contains(b, []byte("/"+module+".ko")) {
		return true
	}
	var config []byte
	if b, err := os.ReadFile("/boot/config-" + release); err == nil {
		config = b
	} else if f, err := os.Open("/proc/config.gz"); err == nil {
		if zr, err := gzip.NewReader(f); err == nil {
			config, _ = io.ReadAll(zr)
		}
		f.Close()
	}
	return bytes.Contains(config, []byte("\n"+option+"=y")) || bytes.Contains(config, []byte("\n"+option+"=m"))
}
