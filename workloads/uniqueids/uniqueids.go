package uniqueids

import (
	"context"
	"errors"
	"fmt"

	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

// Name is the workload's name in plans and histories.
const Name = "unique-ids"

// Workload is the unique-ids workload.
type Workload struct {
	_ struct{}
}

var _ workloads.Workload = (*Workload)(nil)

// Default is the registered instance.
var Default = &Workload{}

func init() { workloads.Register(Default) }

// Name implements workloads.Workload.
func (w *Workload) Name() string { return Name }

// Doc implements workloads.Workload.
func (w *Workload) Doc() string {
	return "unique ids (Jepsen's unique-ids): every op asks for a new id; no two acknowledged ids may be equal"
}

// Check implements workloads.Workload.
func (w *Workload) Check() suite.Options { return suite.Options{Workload: Name} }

// Supports implements workloads.Workload.
func (w *Workload) Supports(client any) error {
	if _, ok := client.(Client); !ok {
		return errors.New("the target's client has no id generator (Generate)")
	}
	return nil
}

// NewGenerator implements workloads.Workload: every op is a generate, so
// the seed changes nothing.
func (w *Workload) NewGenerator(int64) workloads.Generator { return generator{} }

type generator struct{}

// Next implements workloads.Generator.
func (generator) Next() workloads.Invocation { return workloads.Invocation{F: "generate"} }

// Done implements workloads.Generator.
func (generator) Done(workloads.Invocation, workloads.Completion) {}

// Invoke implements workloads.Workload.
func (w *Workload) Invoke(ctx context.Context, client any, inv workloads.Invocation) workloads.Completion {
	c := client.(Client)
	if inv.F != "generate" {
		return workloads.Completion{Type: histories.Fail, Error: fmt.Sprintf("unique-ids: unknown f %q", inv.F)}
	}
	id, err := c.Generate(ctx)
	if err != nil {
		if c.Definite(err) {
			return workloads.Completion{Type: histories.Fail, Error: err.Error()}
		}
		return workloads.Completion{Type: histories.Info, Error: err.Error()}
	}
	return workloads.Completion{Type: histories.OK, Value: id}
}
