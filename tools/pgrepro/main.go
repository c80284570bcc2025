// Command pgrepro is an rw-register client for PostgreSQL that shares no
// code with faultline: another driver (lib/pq, not pgx), its own
// transaction generator, its own workers and its own history writer.
// faultline only checks what it records. It exists to tell a finding of
// PostgreSQL's from a bug of faultline's client: the serializable G2-item
// cycles described in targets/postgres's package doc reproduce with it
// (testdata/txn/postgres-15.18-serializable-g2-item.jsonl.gz is one of its
// histories).
//
// It is a module of its own, so the main module does not depend on lib/pq.
// Against a server you run (it drops and creates the table registers):
//
//	cd tools/pgrepro
//	go run . -dsn 'host=127.0.0.1 port=5432 user=postgres sslmode=disable' -d 6s -out h.jsonl
//	faultline check --workload rw-register --consistency-model serializable h.jsonl
//
// The shape of the load is faultline's rw-register default: 10 workers,
// transactions of 1-4 micro-ops over 8 keys in play picked with an
// exponential skew of 0.7, half of them reads, every write preceded in its
// transaction by a read of its key, a key retired after 32 writes. Writes
// are UPDATE and, when that found no row, INSERT (-mode update), or
// INSERT … ON CONFLICT DO UPDATE (-mode conflict).
package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"sync"
	"time"

	"github.com/lib/pq"
)

type gen struct {
	mu    sync.Mutex
	rng   *rand.Rand
	slots []*key
	cum   []float64
	next  int64
}
type key struct {
	id     int64
	writes int
	nextV  int64
}

func (g *gen) newKey() *key { k := &key{id: g.next, nextV: 1}; g.next++; return k }

type mop struct {
	F string
	K int64
	V any
}

func (g *gen) txn() []mop {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 1 + g.rng.Intn(4)
	var ms []mop
	read := map[int64]bool{}
	for len(ms) < n {
		x := g.rng.Float64() * g.cum[len(g.cum)-1]
		slot := len(g.cum) - 1
		for i, c := range g.cum {
			if x < c {
				slot = i
				break
			}
		}
		k := g.slots[slot]
		write := g.rng.Float64() >= 0.5
		if write && !read[k.id] {
			ms = append(ms, mop{"r", k.id, nil})
			read[k.id] = true
			if len(ms) == n {
				break
			}
		}
		if !write {
			ms = append(ms, mop{"r", k.id, nil})
			read[k.id] = true
			continue
		}
		ms = append(ms, mop{"w", k.id, k.nextV})
		k.nextV++
		k.writes++
		if k.writes >= 32 {
			g.slots[slot] = g.newKey()
		}
	}
	return ms
}

type rec struct {
	mu sync.Mutex
	f  *os.File
	n  int
	t0 time.Time
}

func (r *rec) put(proc int, typ string, ms []mop, errs string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := make([][]any, len(ms))
	for i, m := range ms {
		v[i] = []any{m.F, m.K, m.V}
	}
	o := map[string]any{"index": r.n, "time": time.Since(r.t0).Nanoseconds(), "process": proc, "type": typ, "f": "txn", "value": v}
	if errs != "" {
		o["error"] = errs
	}
	b, err := json.Marshal(o)
	if err == nil {
		_, err = r.f.Write(append(b, '\n'))
	}
	if err != nil {
		fatal(err)
	}
	r.n++
}

func main() {
	dsn := flag.String("dsn", "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable", "the server, as a lib/pq connection string")
	out := flag.String("out", "history.jsonl", "the history to write")
	dur := flag.Duration("d", 6*time.Second, "how long to run")
	conc := flag.Int("c", 10, "workers")
	seed := flag.Int64("seed", 1, "the generator's seed")
	mode := flag.String("mode", "update", "how writes are done: update (UPDATE, then INSERT if no row) or conflict (INSERT … ON CONFLICT)")
	flag.Parse()
	db, err := sql.Open("postgres", *dsn)
	if err != nil {
		fatal(err)
	}
	db.SetMaxOpenConns(*conc + 1)
	if _, err := db.Exec(`DROP TABLE IF EXISTS registers; CREATE TABLE registers (k bigint PRIMARY KEY, v bigint)`); err != nil {
		fatal(err)
	}
	if *mode != "update" && *mode != "conflict" {
		fmt.Fprintf(os.Stderr, "pgrepro: -mode %q: want update or conflict\n", *mode)
		os.Exit(2)
	}
	g := &gen{rng: rand.New(rand.NewSource(*seed))}
	tot := 0.0
	for i := 0; i < 8; i++ {
		g.slots = append(g.slots, g.newKey())
		tot += math.Pow(0.7, float64(i))
		g.cum = append(g.cum, tot)
	}
	f, err := os.Create(*out)
	if err != nil {
		fatal(err)
	}
	r := &rec{f: f, t0: time.Now()}
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	var okN, failN, infoN int64
	var cmu sync.Mutex
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			proc := w
			conn, err := pq.NewConnector(*dsn)
			if err != nil {
				fatal(err)
			}
			cdb := sql.OpenDB(conn)
			cdb.SetMaxOpenConns(1)
			defer cdb.Close()
			for time.Now().Before(deadline) {
				ms := g.txn()
				r.put(proc, "invoke", ms, "")
				res, typ, e := run(cdb, ms, *mode)
				r.put(proc, typ, res, e)
				cmu.Lock()
				switch typ {
				case "ok":
					okN++
				case "fail":
					failN++
				default:
					infoN++
				}
				cmu.Unlock()
				if typ == "info" {
					proc += *conc
				}
			}
		}(w)
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		fatal(err)
	}
	fmt.Printf("ok %d fail %d info %d\n", okN, failN, infoN)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "pgrepro:", err)
	os.Exit(1)
}

func run(db *sql.DB, ms []mop, mode string) ([]mop, string, string) {
	tx, err := db.Begin()
	if err != nil {
		return ms, "fail", err.Error()
	}
	if _, err := tx.Exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"); err != nil {
		tx.Rollback()
		return ms, "fail", err.Error()
	}
	out := make([]mop, len(ms))
	for i, m := range ms {
		switch m.F {
		case "r":
			var v sql.NullInt64
			err := tx.QueryRow("SELECT v FROM registers WHERE k = $1", m.K).Scan(&v)
			if err == sql.ErrNoRows {
				err = nil
			}
			if err != nil {
				tx.Rollback()
				return ms, "fail", err.Error()
			}
			out[i] = mop{"r", m.K, nil}
			if v.Valid {
				out[i].V = v.Int64
			}
		case "w":
			var err error
			if mode == "conflict" {
				_, err = tx.Exec("INSERT INTO registers AS t (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v", m.K, m.V)
			} else {
				var res sql.Result
				res, err = tx.Exec("UPDATE registers SET v = $2 WHERE k = $1", m.K, m.V)
				if err == nil {
					if n, _ := res.RowsAffected(); n == 0 {
						_, err = tx.Exec("INSERT INTO registers (k, v) VALUES ($1, $2)", m.K, m.V)
					}
				}
			}
			if err != nil {
				tx.Rollback()
				return ms, "fail", err.Error()
			}
			out[i] = m
		}
	}
	if err := tx.Commit(); err != nil {
		if pe, ok := err.(*pq.Error); ok {
			return ms, "fail", string(pe.Code) + " " + pe.Message
		}
		return ms, "info", err.Error()
	}
	return out, "ok", ""
}
