package controller

// The backends plans name, as cmd/faultline registers them.
import (
	"github.com/faultline-dev/faultline/control"
	_ "github.com/faultline-dev/faultline/control/local"
	_ "github.com/faultline-dev/faultline/control/ssh"
	"github.com/faultline-dev/faultline/internal/options"
)

func init() {
	// A backend that finds its nodes by itself, as docker's attach mode
	// does (its nodes are the Compose services).
	control.Register(control.Backend{
		Name:         "test-attach",
		Doc:          "test: finds its nodes",
		Options:      []options.Spec{{Name: "project", Doc: "project"}},
		DefaultNodes: func(n int) []control.NodeSpec { return []control.NodeSpec{{Name: "n1"}} },
		FindsNodes:   func(o options.Values) bool { return o.Get("project") != "" },
	})
}
