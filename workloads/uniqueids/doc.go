// Package uniqueids is Jepsen's unique-ids workload: every operation asks
// the target for a new id ("generate"), and no two acknowledged ids may be
// equal. The checker is checker/uniqueids.
//
// Decisions: the workload's name is "unique-ids", Jepsen's. A generate
// carries no value; its ok completion's value is the id (int64). A failed
// generate is a fail when the client says it certainly did not happen
// (Client.Definite) and info otherwise; either way its id, if any, is not
// known, and the checker looks only at acknowledged ids.
package uniqueids
