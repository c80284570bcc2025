package service

import (
	"reflect"
	"testing"
)

// systemd itself cannot run on the machines the tests run on (no systemd
// as pid 1), so the unit's commands are tested from their output.
func TestParseUnitShow(t *testing.T) {
	main, cg, err := parseUnitShow([]byte("MainPID=4242\nControlGroup=/system.slice/etcd.service\n"))
	if err != nil || main != 4242 || cg != "/system.slice/etcd.service" {
		t.Errorf("got %d %q %v", main, cg, err)
	}
	main, cg, err = parseUnitShow([]byte("MainPID=0\nControlGroup=\n"))
	if err != nil || main != 0 || cg != "" {
		t.Errorf("stopped unit: got %d %q %v", main, cg, err)
	}
	if _, _, err := parseUnitShow([]byte("MainPID=x\n")); err == nil {
		t.Error("a MainPID that is not a number was accepted")
	}
	pids, err := parsePids([]byte("12\n13\n4000\n"))
	if err != nil || !reflect.DeepEqual(pids, []int{12, 13, 4000}) {
		t.Errorf("cgroup.procs: got %v %v", pids, err)
	}
	if _, err := parsePids([]byte("12\nabc\n")); err == nil {
		t.Error("a cgroup.procs line that is not a pid was accepted")
	}
}
