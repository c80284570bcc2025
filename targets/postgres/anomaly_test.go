package postgres

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/histories"
	listappend "github.com/faultline-dev/faultline/workloads/append"
	"github.com/faultline-dev/faultline/workloads/rwregister"
	"github.com/faultline-dev/faultline/workloads/txnwl"
)

// loadStats counts a run's completions.
type loadStats struct{ ok, fail, info int }

// runLoad drives wl against tg as the controller's workers do (see
// controller/workers.go): conc workers, each with its own client, taking
// transactions from one generator, recording invoke and completion in a
// streamed history, and retiring the process after an info. It returns
// the history as read back from its file.
func runLoad(t *testing.T, tg *Target, wl *txnwl.Workload, conc int, d time.Duration, seed int64) (histories.History, string, loadStats) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := histories.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		genMu sync.Mutex
		gen   = wl.NewGenerator(seed)
		stMu  sync.Mutex
		st    loadStats
		wg    sync.WaitGroup
		errs  = make(chan error, conc)
	)
	deadline := time.Now().Add(d)
	nodes := tg.cluster.Nodes()
	for w := range conc {
		wg.Go(func() {
			process := histories.Process(w)
			node := nodes[w%len(nodes)].Name
			client, err := tg.Client(node)
			if err != nil {
				errs <- err
				return
			}
			defer func() { client.Close() }()
			for time.Now().Before(deadline) {
				genMu.Lock()
				inv := gen.Next()
				genMu.Unlock()
				if _, err := rec.Record(histories.Op{Process: process, Type: histories.Invoke, F: inv.F, Value: inv.Value}); err != nil {
					errs <- err
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				c := wl.Invoke(ctx, client, inv)
				cancel()
				if _, err := rec.Record(histories.Op{Process: process, Type: c.Type, F: inv.F, Value: c.Value, Node: node, Error: c.Error}); err != nil {
					errs <- err
					return
				}
				genMu.Lock()
				gen.Done(inv, c)
				genMu.Unlock()
				stMu.Lock()
				switch c.Type {
				case histories.OK:
					st.ok++
				case histories.Fail:
					st.fail++
				default:
					st.info++
				}
				stMu.Unlock()
				if c.Type == histories.Info {
					process += histories.Process(conc)
					client.Close()
					if client, err = tg.Client(node); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := histories.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return h, path, st
}

// truncate empties the workloads' tables between runs: every run's
// generator starts again from key 0 and value 1.
func truncate(t *testing.T, ctx context.Context, tg *Target) {
	t.Helper()
	conn, err := pgx.ConnectConfig(ctx, tg.connConfig(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "TRUNCATE lists, registers"); err != nil {
		t.Fatal(err)
	}
}

// TestAnomalies is the Must-show: real PostgreSQL under the list-append
// and rw-register workloads at concurrency 10, checked for the model each
// isolation level claims. Serializable shows no anomaly but, rarely, a
// three-transaction G2-item cycle that PostgreSQL 15.18's SSI let commit
// (from one 6 s run in fifteen to one in eighty here, reproduced with an
// independent client; see the package doc) — so the test accepts exactly
// that shape and nothing else, and logs it; repeatable read (snapshot
// isolation) shows write skew (G2-item), which rules out serializable but
// not snapshot isolation, and which the serializable tolerance must not
// accept; read committed shows anomalies that rule out repeatable read and
// snapshot isolation.
func TestAnomalies(t *testing.T) {
	_, tg := newTarget(t, 1, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	// Write skew shows within a second or two (a hundred G2-item cases in
	// 3 s, measured); 5 s runs leave a wide margin.
	runFor := 5 * time.Second
	if testing.Short() {
		runFor = 2 * time.Second
	}
	const conc = 10

	cases := []struct {
		isolation string
		wl        *txnwl.Workload
		runs      int
		// rulesOut must be among the models ruled out (Not or AlsoNot);
		// allowed must not be.
		rulesOut, allowed []string
		// anomaly must be found, when set.
		anomaly string
		// tolerateFinding lets the known PostgreSQL finding under
		// serializable (see notTheFinding) appear without failing the test.
		tolerateFinding bool
	}{
		{isolation: Serializable, wl: listappend.Default, runs: 3, tolerateFinding: true},
		{isolation: Serializable, wl: rwregister.Default, runs: 2, tolerateFinding: true},
		{isolation: RepeatableRead, wl: listappend.Default, runs: 1, anomaly: "G2-item",
			rulesOut: []string{"serializable"}, allowed: []string{"snapshot-isolation"}},
		{isolation: RepeatableRead, wl: rwregister.Default, runs: 1, anomaly: "G2-item",
			rulesOut: []string{"serializable"}, allowed: []string{"snapshot-isolation"}},
		{isolation: ReadCommitted, wl: listappend.Default, runs: 1,
			rulesOut: []string{"repeatable-read", "snapshot-isolation"}, allowed: []string{"read-committed"}},
		{isolation: ReadCommitted, wl: rwregister.Default, runs: 1,
			rulesOut: []string{"repeatable-read", "snapshot-isolation"}, allowed: []string{"read-committed"}},
	}
	for _, c := range cases {
		t.Run(c.isolation+"/"+c.wl.Name(), func(t *testing.T) {
			tg.opts.Isolation = c.isolation // the clients' BEGIN ISOLATION LEVEL
			for run := range c.runs {
				truncate(t, ctx, tg)
				start := time.Now()
				h, path, st := runLoad(t, tg, c.wl, conc, runFor, int64(run+1))
				ran := time.Since(start)
				opts := c.wl.Check()
				// What the controller will do (see the report): check for
				// what the target claims.
				opts.ConsistencyModel = tg.ConsistencyModel()
				opts.Timeout = 2 * time.Minute
				start = time.Now()
				out, err := suite.Check(h, path, opts)
				if err != nil {
					t.Fatal(err)
				}
				res := out.Results
				t.Logf("run %d: %d txns in %v (%.0f/s): %d ok, %d fail, %d info; checked for %s in %v: %s; anomalies %v; not %v; also not %v",
					run+1, st.ok+st.fail+st.info, ran.Round(time.Millisecond), float64(st.ok+st.fail+st.info)/ran.Seconds(),
					st.ok, st.fail, st.info, opts.ConsistencyModel, time.Since(start).Round(time.Millisecond),
					res.Valid, counts(res, c.wl.Name()), res.Not, res.AlsoNot)
				if st.ok < 500 {
					t.Errorf("only %d committed txns: too few to show anything", st.ok)
				}
				if res.Valid != checker.Valid {
					why := "no finding is tolerated here"
					if c.tolerateFinding {
						why = notTheFinding(res, c.wl.Name())
					}
					if why != "" || res.Valid == checker.Unknown {
						t.Errorf("verdict %s for %s under %s, want valid (%s): %s", res.Valid, opts.ConsistencyModel, c.isolation, why, summary(res, c.wl.Name()))
					} else {
						t.Logf("KNOWN FINDING, tolerated: %s", summary(res, c.wl.Name()))
					}
				}
				ruledOut := append(slices.Clone(res.Not), res.AlsoNot...)
				for _, m := range c.rulesOut {
					if !slices.Contains(ruledOut, m) {
						t.Errorf("%s not ruled out under %s (not %v, also not %v)", m, c.isolation, res.Not, res.AlsoNot)
					}
				}
				for _, m := range c.allowed {
					if slices.Contains(ruledOut, m) {
						t.Errorf("%s ruled out under %s: %s", m, c.isolation, summary(res, c.wl.Name()))
					}
				}
				if c.anomaly != "" && !slices.Contains(res.AnomalyTypes, c.anomaly) {
					t.Errorf("no %s under %s; found %v", c.anomaly, c.isolation, res.AnomalyTypes)
				}
				// The serializable cases' tolerance is narrow: snapshot
				// isolation's write skew is not the finding.
				if c.isolation == RepeatableRead && notTheFinding(res, c.wl.Name()) == "" {
					t.Errorf("write skew under repeatable read would pass for the serializable finding: %s", summary(res, c.wl.Name()))
				}
			}
		})
	}
}

// notTheFinding says why an invalid result is not just the known
// PostgreSQL finding under serializable, or "" if it is: G2-item cycles
// (plain, -process or -realtime) of exactly three committed transactions,
// two of the edges rw anti-dependencies and the third a wr dependency (or
// a process or real-time order) — T3 →rw T1 →wr T2 →rw T3, where T2 saw
// T1's write but not T3's (see the package doc). Anything else, including
// the two-transaction write skew that SSI exists to prevent, is not.
func notTheFinding(r checker.Results, name string) string {
	d, ok := r.Checkers[name].Details.(*txn.Details)
	if !ok {
		return "no transactional details"
	}
	if len(d.Anomalies) == 0 {
		return "no anomaly"
	}
	for _, a := range d.Anomalies {
		if !slices.Contains([]string{"G2-item", "G2-item-process", "G2-item-realtime"}, a.Type) {
			return a.Type + " is not the finding"
		}
		if len(a.Cases) != a.Count {
			return fmt.Sprintf("%d %s cases, %d explained: cannot tell", a.Count, a.Type, len(a.Cases))
		}
		for _, c := range a.Cases {
			rw, other := 0, 0
			for _, st := range c.Steps {
				switch st.Type {
				case "rw":
					rw++
				case "wr", "process", "realtime":
					other++
				}
			}
			committed := true
			for _, tx := range c.Txns {
				committed = committed && tx.Type == "ok"
			}
			if len(c.Txns) != 3 || len(c.Steps) != 3 || rw != 2 || other != 1 || !committed {
				return fmt.Sprintf("a %s cycle of another shape:\n%s", a.Type, c.Explanation)
			}
		}
	}
	return ""
}

// counts is each anomaly type the transactional checker found, with how
// many times: "G2-item×12".
func counts(r checker.Results, name string) []string {
	d, ok := r.Checkers[name].Details.(*txn.Details)
	if !ok {
		return nil
	}
	var out []string
	for _, a := range d.Anomalies {
		out = append(out, fmt.Sprintf("%s×%d", a.Type, a.Count))
	}
	return out
}

func summary(r checker.Results, name string) string {
	var b strings.Builder
	if cr, ok := r.Checkers[name]; ok {
		fmt.Fprintf(&b, "%s", cr.Summary)
	}
	return b.String()
}
