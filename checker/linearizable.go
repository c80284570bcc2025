package checker

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/faultline-dev/faultline/histories"
)

// LinearizableOptions configures Linearizable.
type LinearizableOptions struct {
	// Model is one of Models(); empty means InferModel.
	Model string
	// Initial is the value every key starts with, when HasInitial (so that
	// nil can be an initial value too). Registers: nil, an integer or a
	// string (default nil); kv: a string (default ""); mutex: a boolean,
	// held (default false); multi-register: a map of register to value
	// (default all nil).
	Initial    any
	HasInitial bool
	// Timeout bounds the whole check; 0 means none. A check that runs out
	// of time is unknown, never valid.
	Timeout time.Duration
	// ViolationGrace is how long other keys may still be searched after the
	// first key is found not linearizable, so that the report names them
	// too; keys not decided by then are counted, not explained. The verdict
	// is invalid either way, and a failing key's search can be exponential,
	// so waiting for all of them could take forever. 0 means
	// DefaultViolationGrace; negative means wait for every key.
	ViolationGrace time.Duration
	// Semantics is how a read of nil and a failed op are read by the
	// register, cas-register and multi-register models (see the package
	// doc); histories.SemanticsUnset means the history's own
	// (History.Semantics: Knossos' for Jepsen's formats, faultline's for
	// its JSONL).
	Semantics histories.Semantics
	// Known are keys already found linearizable under the same options
	// (by a check of their ops alone, as `faultline run` does for keys the
	// workload retired while the run went on). A key whose invocations in
	// h number KnownKey.Invocations is counted as linearizable with
	// KnownKey.Ops ops and not searched again; any other key is searched.
	Known map[string]KnownKey
	// Pairs are histories.Pairs(h), when the caller has them already; nil
	// means Linearizable pairs h itself.
	Pairs []histories.Pair
	// Keys are Pairs grouped by key as they were recorded (a run's online
	// check), or nil: Linearizable groups them itself.
	Keys *KeyPartition
	_    struct{}
}

// KnownKey is what Known says of a key found linearizable: its invocations
// when it was checked, and the ops the check counted (LinearizableDetails.Ops).
type KnownKey struct {
	Invocations, Ops int
}

// DefaultViolationGrace is ViolationGrace's default.
const DefaultViolationGrace = 2 * time.Second

// Linearizable checks that a history is linearizable under a model, key by
// key. The error is for a history the model cannot interpret (an *OpError
// names the op) or that is malformed (a *histories.ParseError); a violation
// is a Result, not an error. The Linearization holds what is needed to draw
// porcupine's visualization of each failing key; it is nil when no key
// failed.
func Linearizable(h histories.History, opts LinearizableOptions) (Result, *Linearization, error) {
	start := time.Now()
	name := opts.Model
	if name == "" {
		var err error
		if name, err = InferModel(h); err != nil {
			return Result{}, nil, err
		}
	}
	def, err := lookupModel(name)
	if err != nil {
		return Result{}, nil, err
	}
	var init any
	if opts.HasInitial {
		init, err = def.initial(opts.Initial)
	} else {
		init, err = def.initial(nil)
	}
	if err != nil {
		return Result{}, nil, fmt.Errorf("model %s: %w", def.name, err)
	}
	pairs := opts.Pairs
	if pairs == nil {
		if pairs, err = histories.Pairs(h, ""); err != nil {
			return Result{}, nil, err
		}
	}
	var keys []keyPairs
	if opts.Keys != nil && opts.Keys.n == len(pairs) {
		keys = opts.Keys.sorted()
	} else {
		keys = partitionPairs(h, pairs)
	}
	sem := opts.Semantics
	if sem == histories.SemanticsUnset {
		sem = h.Semantics()
	}

	var deadline time.Time
	if opts.Timeout > 0 {
		deadline = start.Add(opts.Timeout)
	}
	grace := opts.ViolationGrace
	if grace == 0 {
		grace = DefaultViolationGrace
	}
	c := &run{h: h, pairs: pairs, def: def, init: init, deadline: deadline, single: len(keys) == 1, knossos: sem == histories.SemanticsKnossos}
	outs := make([]keyOutcome, len(keys))
	q := &queue{jobs: make([]job, 0, len(keys))}
	for i := range keys {
		if kk, ok := opts.Known[keys[i].key]; ok && kk.Invocations == len(keys[i].pairs) {
			outs[i] = keyOutcome{status: keyOK, ops: kk.Ops}
			continue
		}
		q.jobs = append(q.jobs, job{key: i, budget: firstBudget})
	}
	var violation sync.Once
	var graceTimer *time.Timer
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(q.jobs))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var spare *prepared // buffers of a key done with, for the next
			for {
				j, alone, ok := q.pop()
				if !ok {
					return
				}
				if c.stop.Load() {
					n := len(keys[j.key].pairs) // not decoded: an upper bound
					if j.prep != nil {
						n = len(j.prep.ops)
					}
					outs[j.key] = keyOutcome{status: keyStopped, ops: n}
					continue
				}
				if j.prep == nil {
					var out keyOutcome
					if j.prep, out = c.prepare(&keys[j.key], spare); j.prep == nil {
						outs[j.key] = out
						if out.status == keyError {
							c.failed.Store(true)
							c.stop.Store(true)
						}
						continue
					}
				}
				budget := j.budget
				if alone {
					budget = 0 // nothing else waits: search to the end (or the deadline)
				}
				out := c.search(j.prep, budget)
				spare = nil
				switch out.status {
				case keyOK, keyUndecided, keyStopped:
					spare = j.prep // nothing keeps it
					outs[j.key] = out
				case keyDeferred:
					j.budget *= budgetGrowth
					q.push(j)
				case keyIllegal:
					if grace > 0 {
						violation.Do(func() { graceTimer = time.AfterFunc(grace, func() { c.stop.Store(true) }) })
					}
					fallthrough
				default:
					outs[j.key] = out
				}
			}
		}()
	}
	wg.Wait()
	if graceTimer != nil {
		graceTimer.Stop()
	}
	return linearizableResult(def, sem, keys, outs, opts.Timeout, grace)
}

// Keys are searched in turns, as porcupine runs all partitions at once, so
// that a key whose search is exponential does not keep the others (and a
// violation among them) waiting: a key gets firstBudget, then budgetGrowth
// times more each turn, until it is the only key left, which is searched to
// the end. Memory stays bounded by the workers, unlike one goroutine per key.
// The repeated work is at most 1/(budgetGrowth-1) of a slow key's search.
const (
	firstBudget  = time.Second
	budgetGrowth = 8
)

// job is a key waiting to be searched: first with its ops not yet decoded,
// then again, decoded, with a bigger budget if its turn ran out.
type job struct {
	key    int
	budget time.Duration
	prep   *prepared
}

// queue is the keys to search, first in first out: new keys first (biggest
// first), then those whose turn ran out, in the order of their budgets.
type queue struct {
	mu   sync.Mutex
	jobs []job
}

// pop takes the next job; alone says no other job waits behind it.
func (q *queue) pop() (j job, alone, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) == 0 {
		return job{}, false, false
	}
	j = q.jobs[0]
	q.jobs = q.jobs[1:]
	return j, len(q.jobs) == 0, true
}

func (q *queue) push(j job) {
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
}

// run is one Linearizable call, shared by its workers.
type run struct {
	h        histories.History
	pairs    []histories.Pair
	def      *modelDef
	init     any
	deadline time.Time
	single   bool // the history has one key
	knossos  bool // read with Knossos' semantics
	// stop ends the search of every key: set when the grace after the first
	// violation is over, or when an op cannot be interpreted (failed).
	stop, failed atomic.Bool
}

// keyPairs is one key's pairs, as indexes into the history's pairs.
type keyPairs struct {
	key   string
	pairs []int32
}

// partitionPairs groups pairs by their invocation's key, biggest key first
// so that the worker pool does not end on a long one.
func partitionPairs(h histories.History, pairs []histories.Pair) []keyPairs {
	ids := make(map[string]int32)
	keyOf := make([]int32, len(pairs))
	var counts []int32
	var names []string
	for i, p := range pairs {
		k := h[p.Invoke].Key
		id, ok := ids[k]
		if !ok {
			id = int32(len(names))
			ids[k] = id
			names = append(names, k)
			counts = append(counts, 0)
		}
		keyOf[i] = id
		counts[id]++
	}
	keys := make([]keyPairs, len(names))
	backing := make([]int32, len(pairs))
	off := int32(0)
	for id := range keys {
		keys[id] = keyPairs{key: names[id], pairs: backing[off : off : off+counts[id]]}
		off += counts[id]
	}
	for i, id := range keyOf {
		keys[id].pairs = append(keys[id].pairs, int32(i))
	}
	sortKeys(keys)
	return keys
}

// A KeyPartition is partitionPairs pair by pair, for a history as it is
// recorded: Add each pair's key in order.
type KeyPartition struct {
	ids  map[string]int32
	keys []keyPairs
	n    int
}

// Add puts the next pair (number n, counting from 0) under key.
func (kp *KeyPartition) Add(key string) {
	if kp.ids == nil {
		kp.ids = map[string]int32{}
	}
	id, ok := kp.ids[key]
	if !ok {
		id = int32(len(kp.keys))
		kp.ids[key] = id
		kp.keys = append(kp.keys, keyPairs{key: key})
	}
	kp.keys[id].pairs = append(kp.keys[id].pairs, int32(kp.n))
	kp.n++
}

// sorted is partitionPairs of the pairs added.
func (kp *KeyPartition) sorted() []keyPairs {
	keys := slices.Clone(kp.keys)
	sortKeys(keys)
	return keys
}

// sortKeys orders keys biggest first, then by name.
func sortKeys(keys []keyPairs) {
	sort.SliceStable(keys, func(i, j int) bool {
		if len(keys[i].pairs) != len(keys[j].pairs) {
			return len(keys[i].pairs) > len(keys[j].pairs)
		}
		return keyLess(keys[i].key, keys[j].key)
	})
}

// keyLess orders keys numerically when both are integers, else as strings.
func keyLess(a, b string) bool {
	x, errX := strconv.ParseInt(a, 10, 64)
	y, errY := strconv.ParseInt(b, 10, 64)
	if errX == nil && errY == nil && x != y {
		return x < y
	}
	return a < b
}

type keyStatus uint8

const (
	keyOK keyStatus = iota
	keyIllegal
	keyUndecided // out of time
	keyStopped   // not searched to the end: another key was not linearizable
	keyDeferred  // its turn ran out: to be searched again, longer
	keyError
)

type keyOutcome struct {
	status keyStatus
	ops    int
	err    *OpError
	fail   *failedKey
}

// failedKey is a key with no linearization: what the report and the
// visualization need.
type failedKey struct {
	key     string
	ops     []lop
	part    *partition
	model   porcupine.Model
	info    porcupine.LinearizationInfo
	explain KeyFailure
}

// prepared is a key's ops, decoded, and porcupine's ops over them.
type prepared struct {
	key   string
	ops   []lop
	part  *partition
	pops  []porcupine.Operation
	procs []int // scratch of porcupineOps
}

// prepare decodes a key's ops. A nil prepared comes with the key's outcome:
// an error, or nothing to check. The buffers of spare, a prepared key that
// nothing refers to any more, are used again if it is not nil: a worker
// goes through thousands of keys of a large history, and their ops would
// otherwise be garbage as large as the history.
func (c *run) prepare(k *keyPairs, spare *prepared) (*prepared, keyOutcome) {
	h, pairs, def := c.h, c.pairs, c.def
	part := &partition{h: h, key: k.key, knossos: c.knossos}
	if spare == nil {
		spare = &prepared{}
	}
	ops := slices.Grow(spare.ops[:0], len(k.pairs))
	for _, pi := range k.pairs {
		p := pairs[pi]
		ops = append(ops, lop{inv: p.Invoke, comp: p.Complete, outcome: h.Outcome(p)})
		o := &ops[len(ops)-1]
		keep, err := def.decode(h, p, part, o)
		if err != nil {
			at := p.Invoke
			var ce completionError
			if errors.As(err, &ce) && p.Complete != histories.Open {
				at = p.Complete
			}
			return nil, keyOutcome{status: keyError, err: &OpError{Index: h[at].Index, Line: int(h[at].Line), Model: def.name, Msg: err.Error()}}
		}
		if !keep {
			ops = ops[:len(ops)-1]
		}
	}
	if len(ops) == 0 {
		return nil, keyOutcome{status: keyOK}
	}
	p := spare
	p.key, p.ops, p.part = k.key, ops, part
	p.pops, p.procs = porcupineOps(h, ops, p.pops, p.procs)
	return p, keyOutcome{}
}

// search runs porcupine on a prepared key for at most budget (0: no limit)
// and no later than the run's deadline.
func (c *run) search(p *prepared, budget time.Duration) keyOutcome {
	n := len(p.ops)
	timeout := budget
	if !c.deadline.IsZero() {
		left := time.Until(c.deadline)
		if left <= 0 {
			return keyOutcome{status: keyUndecided, ops: n}
		}
		if timeout == 0 || left < timeout {
			timeout = left
		}
	}
	model := c.def.newModel(p.part, c.init)
	// porcupine cannot be cancelled from outside but through its model: once
	// stop is set, every step fails, which ends the search quickly. A
	// linearization found is still one; a verdict of illegal is not. With a
	// single key nothing can stop it, and the check costs no more.
	stopping, aborted := model, false
	if !c.single {
		stopping.Step = func(state, input, output any) (bool, any) {
			if c.stop.Load() {
				aborted = true
				return false, state
			}
			return model.Step(state, input, output)
		}
	}
	// The partial linearizations that explain a violation cost porcupine
	// time and memory at every step back, for nothing when the key is
	// linearizable, as most keys of a history of many are: those are
	// searched without, and a key found not linearizable searched again
	// with them (the same search: porcupine's is deterministic). A history
	// of one key is searched with them at once.
	var res porcupine.CheckResult
	var info porcupine.LinearizationInfo
	if c.single {
		res, info = porcupine.CheckOperationsVerbose(stopping, p.pops, timeout)
	} else {
		res = porcupine.CheckOperationsTimeout(stopping, p.pops, timeout)
		if res == porcupine.Illegal && !aborted {
			res, info = porcupine.CheckOperationsVerbose(model, p.pops, 0)
		}
	}
	switch {
	case res == porcupine.Ok:
		return keyOutcome{status: keyOK, ops: n}
	case res == porcupine.Unknown && !c.deadline.IsZero() && !time.Now().Before(c.deadline):
		return keyOutcome{status: keyUndecided, ops: n}
	case res == porcupine.Unknown:
		return keyOutcome{status: keyDeferred, ops: n}
	case aborted:
		return keyOutcome{status: keyStopped, ops: n}
	}
	f := &failedKey{key: p.key, ops: p.ops, part: p.part, model: model, info: info}
	f.explain = explainKey(f)
	return keyOutcome{status: keyIllegal, ops: n, fail: f}
}

// porcupineOps builds porcupine's ops over the history's indexes: an op is
// called at its invocation's index and returns at its completion's, or
// never (math.MaxInt64) if its outcome is unknown. Processes become dense
// rows for the visualization.
func porcupineOps(h histories.History, ops []lop, pops []porcupine.Operation, procs []int) ([]porcupine.Operation, []int) {
	procs = procs[:0]
	for i := range ops {
		procs = append(procs, int(h[ops[i].inv].Process))
	}
	sort.Ints(procs)
	uniq := procs[:0]
	for i, p := range procs {
		if i == 0 || p != procs[i-1] {
			uniq = append(uniq, p)
		}
	}
	pops = slices.Grow(pops[:0], len(ops))
	for i := range ops {
		o := &ops[i]
		ret := int64(math.MaxInt64)
		if o.outcome != histories.Info {
			ret = h[o.comp].Index
		}
		row, _ := slices.BinarySearch(uniq, int(h[o.inv].Process))
		pops = append(pops, porcupine.Operation{ClientId: row, Input: o, Call: h[o.inv].Index, Return: ret, Metadata: o})
	}
	return pops, procs
}

func linearizableResult(def *modelDef, sem histories.Semantics, keys []keyPairs, outs []keyOutcome, timeout, grace time.Duration) (Result, *Linearization, error) {
	var firstErr *OpError
	d := LinearizableDetails{Model: def.name, Keys: len(keys)}
	// The summary names the model, and Knossos' semantics where the model
	// reads a history differently under them.
	label := def.name
	if sem == histories.SemanticsKnossos && def.semanticsDiffer {
		label += ", Knossos semantics"
	}
	var failed []*failedKey
	timedOut := 0
	for i := range outs {
		o := &outs[i]
		d.Ops += o.ops
		switch o.status {
		case keyError:
			if firstErr == nil || o.err.Index < firstErr.Index {
				firstErr = o.err
			}
		case keyIllegal:
			failed = append(failed, o.fail)
		case keyUndecided:
			timedOut++
		case keyStopped:
			d.StoppedAfterViolation++
		}
	}
	if firstErr != nil {
		return Result{}, nil, firstErr
	}
	d.Undecided = timedOut + d.StoppedAfterViolation
	d.Decided = len(keys) - d.Undecided
	d.TimedOut = timedOut > 0
	sort.Slice(failed, func(i, j int) bool { return keyLess(failed[i].key, failed[j].key) })

	keysWord := func(n int) string {
		if n == 1 {
			return "1 key"
		}
		return fmt.Sprintf("%d keys", n)
	}
	timedOutMsg := ""
	if timedOut > 0 {
		timedOutMsg = fmt.Sprintf("the checker timed out after %s with %d of %s decided", timeout, d.Decided, keysWord(len(keys)))
	}
	if len(failed) == 0 {
		if d.Undecided > 0 {
			return Result{Valid: Unknown, Summary: fmt.Sprintf("unknown (%s): %s, all linearizable so far", label, timedOutMsg), Details: d}, nil, nil
		}
		total := 0
		for _, k := range keys {
			total += len(k.pairs)
		}
		left := ""
		if total > d.Ops {
			// So that the count agrees with the stats' count of ops.
			left = fmt.Sprintf(" (of %d; the other %d failed, or are reads that returned nothing, and constrain nothing)", total, total-d.Ops)
		}
		return Result{Valid: Valid, Summary: fmt.Sprintf("linearizable (%s): %d ops on %s%s", label, d.Ops, keysWord(len(keys)), left), Details: d}, nil, nil
	}

	const maxKeysInDetails = 100
	const maxKeysInSummary = 5
	var b strings.Builder
	if len(keys) == 1 {
		fmt.Fprintf(&b, "not linearizable (%s)", label)
	} else {
		fmt.Fprintf(&b, "not linearizable (%s): %d of %s have no linearization", label, len(failed), keysWord(len(keys)))
	}
	if timedOutMsg != "" {
		fmt.Fprintf(&b, " (%s)", timedOutMsg)
	}
	if n := d.StoppedAfterViolation; n > 0 {
		fmt.Fprintf(&b, "; %s not decided: the search of other keys stops %s after the first violation", keysWord(n), grace)
	}
	for i, f := range failed {
		if i == maxKeysInSummary {
			fmt.Fprintf(&b, "\n… and %d more (see details)", len(failed)-i)
			break
		}
		b.WriteString("\n")
		if len(keys) > 1 || f.key != "" {
			fmt.Fprintf(&b, "key %s: ", f.key)
		}
		b.WriteString(f.explain.summaryLine)
	}
	for i, f := range failed {
		if i == maxKeysInDetails {
			d.FailuresCut = len(failed) - i
			break
		}
		d.Failures = append(d.Failures, f.explain)
	}
	return Result{Valid: Invalid, Summary: b.String(), AnomalyTypes: []string{"nonlinearizable"}, Details: d}, &Linearization{model: def.name, keys: failed}, nil
}

// completionError is a decode error about an op's completion (what a read
// returned) rather than its invocation, so that the error points there.
type completionError struct{ error }

func atCompletion(format string, args ...any) error {
	return completionError{fmt.Errorf(format, args...)}
}
