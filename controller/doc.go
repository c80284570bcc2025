// Package controller runs one test: it sets the cluster up through a
// target, runs the workload's workers (and, when asked, the nemesis
// schedule), records every operation to the store as it happens, then runs
// the final phase (heal, wait for the cluster to answer again and measure
// how long that took), tears everything down, checks the history and writes
// the store directory:
//
//	store/<test>/<YYYYMMDDTHHMMSS>/plan.json       everything needed to rerun
//	                               history.jsonl   streamed as ops happen
//	                               results.json    the checkers' verdict
//	                               faultline.log   the controller's log
//	                               nodes/<node>/   each node's logs
//	store/latest -> <test>/<time>
//
// Decisions:
//   - When the time limit passes, workers stop taking new operations but
//     in-flight ones run to their own op timeout, so the end of a test does
//     not manufacture info ops. Ctrl-C (SIGINT/SIGTERM) does the same, then
//     tears down and still checks what was recorded; the run then exits 3
//     (interrupted) whatever the verdict, which is still printed and saved.
//   - An operation whose outcome is unknown (timeout, an error that may
//     have been applied) is info and retires its process: the worker goes
//     on as process p+concurrency, as in Jepsen, with a fresh client.
//   - Teardown runs on normal exit, error, Ctrl-C and panic (workers
//     recover their own panics and end the test); a controller killed with
//     SIGKILL leaves what `faultline heal` removes.
//   - The process is a child subreaper, so processes started in node
//     namespaces are reaped here rather than by a slow PID 1.
//   - Same seed, same sequence of generated operations (which worker gets
//     which op depends on timing, as in Jepsen).
package controller
