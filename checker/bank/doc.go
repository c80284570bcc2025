// Package bank is Jepsen's bank checker (jepsen.tests.bank/checker):
// transfers between accounts must never create or destroy money, so every
// read of all the balances sums to the same total.
//
// Ops, as Jepsen's bank workloads write them:
//
//	{:f :transfer, :value {:from a, :to b, :amount n}}
//	{:f :read, :value nil} → {a balance, b balance, …}
//
// Account ids are integers or strings; histories normalise map keys to
// strings, so account 0 is "0" (Options.Accounts are given that way). A
// balance is an integer, or nil (an account the read could not see).
//
// Every read that completed ok is checked, as Jepsen's check-op does:
//
//   - unexpected-key: it shows an account that is not the bank's;
//   - nil-balance: some balance is nil (its total is then not computed);
//   - wrong-total: its balances do not sum to the total;
//   - negative-value: some balance is below zero, unless
//     Options.NegativeBalances allows it.
//
// Jepsen reports only the first of these that a read shows, in that
// order; faultline names every one, so a read can count under several
// types (the verdict is the same). Each wrong read is named with its
// index, time, node, balances and the total it saw; Errors sums up each
// type with Jepsen's first, worst, last (and, for wrong-total, lowest and
// highest) reads, badness as Jepsen's err-badness.
//
// Jepsen takes the total and the accounts from the test map (:total-amount
// and :accounts); here they are Options. Without Options.Total the total
// of the first read to complete ok (with no nil balance) is taken; without
// Options.Accounts the accounts are those of the first ok read and every
// account a transfer names; the summary says so, and that a wrong first
// read then makes every right read look wrong.
//
// Transfers themselves are not checked against the reads (a failed or
// crashed transfer may or may not have moved money; the total is what
// must hold), but their shape is: a transfer whose value is not a map
// with :from, :to and an integer :amount, or an ok read whose value is
// not a map of integer or nil balances, is an error naming the op's line.
// Failed and crashed reads, other :f and nemesis ops are ignored.
//
// Verdict: invalid if any read is wrong; unknown if no read completed ok
// (nothing shows the balances); else valid.
//
// Keys: ops that carry a key are one bank per key, each with its own
// inferred total and accounts when the options do not give them; results
// merge invalid over unknown over valid and FailedKeys and UnknownKeys name
// the keys that were not valid.
//
// Cost: O(n + r log r + b), with r the reads and b their balances.
package bank
