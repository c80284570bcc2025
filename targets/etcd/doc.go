// Package etcd is the etcd target: real etcd members (v3.6, embedded from
// go.etcd.io/etcd/server/v3/embed into faultline's own binary, so nothing
// is installed on the nodes) and a register client over
// go.etcd.io/etcd/client/v3.
//
// A member is the process `<faultline> etcd-member <flags>` (MemberMain)
// started in its node through a control.Cluster; its data lives in
// <dir>/<node>/data and its log in <dir>/<node>/etcd.log.
//
// The client's operations classify their errors for the history: Definite
// reports that a failed request certainly took no effect (the history's
// "fail"); any other failure may have taken effect ("info").
package etcd
