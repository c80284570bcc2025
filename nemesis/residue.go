package nemesis

import (
	"context"
	"errors"
	"sync"
)

// Residue says where an action acts while it is in effect: the journal
// records it with the action, so that heal can say what a controller that
// died left behind. Undoing it is the nodes' agents' business: each
// records, in its own ledger on the node, how to undo what it applied.
type Residue struct {
	// Nodes are the nodes whose agents hold the action.
	Nodes []string `json:"nodes,omitempty"`
	// Killed are nodes whose service the action killed: restarting them
	// needs the target (faultline nemesis heal does it), or its manager
	// (an existing cluster's agent runs its start command).
	Killed []string `json:"killed,omitempty"`
}

// forNodes runs f for every node at once and joins the errors.
func forNodes(nodes []string, f func(node string) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func stringsValue(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// recoverAll asks every node's agent to undo fault id.
func recoverAll(ctx context.Context, env *Env, nodes []string, id int64) error {
	return forNodes(nodes, func(n string) error {
		undone, err := env.Agents.Recover(ctx, n, id)
		for _, u := range undone {
			env.logf("nemesis: %s: %s", n, u)
		}
		return err
	})
}
