// Package bank is Jepsen's bank workload: transfers between accounts, each
// reading both balances and writing the new ones in one transaction, and
// reads of every balance in one transaction. Every read must see the same
// total and no negative balance: a read that sees another total saw a
// transfer in part (a lost update, a read skew). The checker is
// checker/bank.
//
// Decisions, after jepsen.tests.bank's defaults:
//   - Accounts "0" to "7" (Jepsen's (range 8)), transfers of 1 to 5
//     (:max-transfer 5) between two different accounts (diff-transfer),
//     and as many reads as transfers (gen/mix of the two).
//   - Jepsen's total is 100; Client.BankInit gives every account the same
//     balance, so here each starts with 10 and the total is 80
//     (Workload.Total).
//   - The accounts are made once per run before anything else: the
//     workload is a workloads.Initializer, whose Init calls BankInit
//     (idempotent: accounts that exist are kept) until it succeeds or its
//     context ends.
//   - A transfer that would overdraw its source is refused by the client
//     (ErrInsufficient) and recorded as a fail with error "insufficient":
//     it certainly changed nothing. Other failed transfers are fail when
//     the client says so (Client.Definite), info otherwise.
//   - A read's value is a map from account to balance (map[string]any of
//     int64); a failed read is a fail whatever the error.
//   - Final (workloads.FinalGenerator): one read once the cluster has
//     healed.
package bank
