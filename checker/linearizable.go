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
	_       struct{}
}

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
	pairs, err := histories.Pairs(h, "")
	if err != nil {
		return Result{}, nil, err
	}
	keys := partitionPairs(h, pairs)

	var deadline time.Time
	if opts.Timeout > 0 {
		deadline = start.Add(opts.Timeout)
	}
	outs := make([]keyOutcome, len(keys))
	var next atomic.Int64
	var failed atomic.Bool // an op the model cannot interpret: stop early
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(keys))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(keys) || failed.Load() {
					return
				}
				outs[i] = checkKey(h, pairs, &keys[i], def, init, deadline)
				if outs[i].status == keyError {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return linearizableResult(def, keys, outs, opts.Timeout)
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
	sort.SliceStable(keys, func(i, j int) bool {
		if len(keys[i].pairs) != len(keys[j].pairs) {
			return len(keys[i].pairs) > len(keys[j].pairs)
		}
		return keyLess(keys[i].key, keys[j].key)
	})
	return keys
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
	keyUndecided
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

func checkKey(h histories.History, pairs []histories.Pair, k *keyPairs, def *modelDef, init any, deadline time.Time) keyOutcome {
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return keyOutcome{status: keyUndecided, ops: len(k.pairs)}
	}
	part := &partition{h: h, key: k.key}
	ops := make([]lop, 0, len(k.pairs))
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
			return keyOutcome{status: keyError, err: &OpError{Index: h[at].Index, Line: h[at].Line, Model: def.name, Msg: err.Error()}}
		}
		if !keep {
			ops = ops[:len(ops)-1]
		}
	}
	if len(ops) == 0 {
		return keyOutcome{status: keyOK}
	}
	var timeout time.Duration
	if !deadline.IsZero() {
		timeout = time.Until(deadline)
		if timeout <= 0 {
			return keyOutcome{status: keyUndecided, ops: len(ops)}
		}
	}
	pops := porcupineOps(h, ops)
	model := def.newModel(part, init)
	res, info := porcupine.CheckOperationsVerbose(model, pops, timeout)
	switch res {
	case porcupine.Ok:
		return keyOutcome{status: keyOK, ops: len(ops)}
	case porcupine.Unknown:
		return keyOutcome{status: keyUndecided, ops: len(ops)}
	}
	f := &failedKey{key: k.key, ops: ops, part: part, model: model, info: info}
	f.explain = explainKey(f)
	return keyOutcome{status: keyIllegal, ops: len(ops), fail: f}
}

// porcupineOps builds porcupine's ops over the history's indexes: an op is
// called at its invocation's index and returns at its completion's, or
// never (math.MaxInt64) if its outcome is unknown. Processes become dense
// rows for the visualization.
func porcupineOps(h histories.History, ops []lop) []porcupine.Operation {
	procs := make([]int, 0, len(ops))
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
	pops := make([]porcupine.Operation, len(ops))
	for i := range ops {
		o := &ops[i]
		ret := int64(math.MaxInt64)
		if o.outcome != histories.Info {
			ret = h[o.comp].Index
		}
		row, _ := slices.BinarySearch(uniq, int(h[o.inv].Process))
		pops[i] = porcupine.Operation{ClientId: row, Input: o, Call: h[o.inv].Index, Return: ret, Metadata: o}
	}
	return pops
}

func linearizableResult(def *modelDef, keys []keyPairs, outs []keyOutcome, timeout time.Duration) (Result, *Linearization, error) {
	var firstErr *OpError
	d := LinearizableDetails{Model: def.name, Keys: len(keys)}
	var failed []*failedKey
	undecided := 0
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
			undecided++
		}
	}
	if firstErr != nil {
		return Result{}, nil, firstErr
	}
	d.Decided = len(keys) - undecided
	d.TimedOut = undecided > 0
	sort.Slice(failed, func(i, j int) bool { return keyLess(failed[i].key, failed[j].key) })

	keysWord := func(n int) string {
		if n == 1 {
			return "1 key"
		}
		return fmt.Sprintf("%d keys", n)
	}
	timedOut := ""
	if undecided > 0 {
		timedOut = fmt.Sprintf("the checker timed out after %s with %d of %s decided", timeout, d.Decided, keysWord(len(keys)))
	}
	if len(failed) == 0 {
		if undecided > 0 {
			return Result{Valid: Unknown, Summary: fmt.Sprintf("unknown (%s): %s, all linearizable so far", def.name, timedOut), Details: d}, nil, nil
		}
		return Result{Valid: Valid, Summary: fmt.Sprintf("linearizable (%s): %d ops on %s", def.name, d.Ops, keysWord(len(keys))), Details: d}, nil, nil
	}

	const maxKeysInDetails = 100
	const maxKeysInSummary = 5
	var b strings.Builder
	if len(keys) == 1 {
		fmt.Fprintf(&b, "not linearizable (%s)", def.name)
	} else {
		fmt.Fprintf(&b, "not linearizable (%s): %d of %s have no linearization", def.name, len(failed), keysWord(len(keys)))
	}
	if timedOut != "" {
		fmt.Fprintf(&b, " (%s)", timedOut)
	}
	for i, f := range failed {
		if i == maxKeysInSummary {
			fmt.Fprintf(&b, "\n… and %d more (see details)", len(failed)-i)
			break
		}
		b.WriteString("\n")
		b.WriteString(f.explain.summary(len(keys) > 1 || f.key != ""))
	}
	for i, f := range failed {
		if i == maxKeysInDetails {
			d.FailuresCut = len(failed) - i
			break
		}
		d.Failures = append(d.Failures, f.explain)
	}
	lin := &Linearization{model: def.name}
	for _, f := range failed {
		lin.keys = append(lin.keys, f)
	}
	return Result{Valid: Invalid, Summary: b.String(), AnomalyTypes: []string{"nonlinearizable"}, Details: d}, lin, nil
}

// completionError is a decode error about an op's completion (what a read
// returned) rather than its invocation, so that the error points there.
type completionError struct{ error }

func atCompletion(format string, args ...any) error {
	return completionError{fmt.Errorf(format, args...)}
}
