package bank

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/histories"
)

// Name is the checker's key in results.json.
const Name = "bank"

// Anomaly types, Jepsen's bank error types.
const (
	AnomalyWrongTotal    = "wrong-total"
	AnomalyNegativeValue = "negative-value"
	AnomalyUnexpectedKey = "unexpected-key"
	AnomalyNilBalance    = "nil-balance"
)

// Options configure the bank checker (Jepsen's test keys :total-amount
// and :accounts, and the checker's :negative-balances?).
type Options struct {
	// Total is what every read's balances must sum to. 0 means not given:
	// the total of the first ok read (with no nil balance) is taken, and
	// the summary says so.
	Total int64
	// Accounts are the account ids a read may show (as strings: 0 is
	// "0"). Empty means not given: the accounts of the first ok read and
	// every account a transfer names are taken, and the summary says so.
	Accounts []string
	// NegativeBalances allows balances below zero.
	NegativeBalances bool
}

// Checker is Jepsen's bank checker. See the package doc.
type Checker struct{ opts Options }

// New returns a bank checker.
func New(opts Options) *Checker { return &Checker{opts: opts} }

// Name implements checker.Checker.
func (*Checker) Name() string { return Name }

// Details is the bank checker's account in results.json.
type Details struct {
	// Keyed: how many keys, and which were invalid or undecided.
	wl.Keyed
	// Banks says, per key (one, "", for a history without keys), what
	// the reads were checked against.
	Banks            []Bank `json:"banks"`
	NegativeBalances bool   `json:"negative-balances"`
	TransferCount    int    `json:"transfer-count"`
	ReadCount        int    `json:"read-count"`
	// ErrorCount is how many ok reads were wrong; a read can be wrong in
	// several ways, each counted under its type in Errors.
	ErrorCount int `json:"error-count"`
	// FirstError is the earliest wrong read.
	FirstError *BadRead `json:"first-error,omitempty"`
	// Errors sums up each anomaly type.
	Errors map[string]*ErrorSummary `json:"errors,omitempty"`
	// BadReads lists the first 100 wrong reads, in history order.
	BadReads []BadRead `json:"bad-reads,omitempty"`
}

// Bank is what one key's reads were checked against.
type Bank struct {
	Key   string `json:"key,omitempty"`
	Total int64  `json:"total"`
	// TotalFrom is the read the total was taken from, when Options.Total
	// was not given.
	TotalFrom *checker.OpRef `json:"total-from,omitempty"`
	Accounts  []string       `json:"accounts"`
	// AccountsInferred: Options.Accounts was not given, and the accounts
	// are those of the first ok read and of the transfers.
	AccountsInferred bool `json:"accounts-inferred,omitempty"`
	ReadCount        int  `json:"read-count"`
	ErrorCount       int  `json:"error-count"`
}

// ErrorSummary is Jepsen's account of one error type: how many reads, the
// first, the worst and the last, and for wrong-total the lowest and the
// highest total seen.
type ErrorSummary struct {
	Count   int      `json:"count"`
	First   *BadRead `json:"first"`
	Worst   *BadRead `json:"worst"`
	Last    *BadRead `json:"last"`
	Lowest  *BadRead `json:"lowest,omitempty"`
	Highest *BadRead `json:"highest,omitempty"`
}

// BadRead is a wrong read: its op (with the balances as its value), what
// is wrong with it, and the total it saw (absent when a balance was nil).
type BadRead struct {
	Key      string        `json:"key,omitempty"`
	Types    []string      `json:"types"`
	Read     checker.OpRef `json:"read"`
	Total    *int64        `json:"total,omitempty"`
	Expected int64         `json:"expected"`
	// Unexpected are accounts not among the bank's; Nils accounts with a
	// nil balance; Negative the accounts with a balance below zero.
	Unexpected []string         `json:"unexpected,omitempty"`
	Nils       []string         `json:"nils,omitempty"`
	Negative   map[string]int64 `json:"negative,omitempty"`
}

// balances is an ok read's value, checked.
type balances struct {
	pair  int
	accts []string // sorted naturally
	bal   map[string]int64
	nils  []string
}

type bankState struct {
	key       string
	reads     []balances
	transfers int
	accts     map[string]bool // accounts transfers name
}

// Check implements checker.Checker.
func (c *Checker) Check(ctx context.Context, h histories.History) (checker.Result, error) {
	p, err := wl.Pair(h)
	if err != nil {
		return checker.Result{}, err
	}
	tl := wl.NewTimeline(h)
	keys, byKey := p.Groups()
	poll := &wl.Poll{Ctx: ctx}
	d := Details{NegativeBalances: c.opts.NegativeBalances}
	keyed := len(keys) > 1 || len(keys) == 1 && keys[0] != ""
	if keyed {
		d.Keys = len(keys)
	}
	valid := checker.Valid
	if len(keys) == 0 {
		valid = checker.Unknown
	}
	var bad []BadRead
	var notes, unknown []string
	for _, k := range keys {
		st := &bankState{key: k, accts: map[string]bool{}}
		// Reads complete in history order, not invocation order: take
		// them by completion so that "the first ok read" is the first to
		// complete.
		var readPairs []int
		for _, i := range byKey[k] {
			if poll.Done() {
				return wl.Interrupted(Name, ctx), nil
			}
			inv := p.Inv(i)
			switch inv.F {
			case "transfer":
				from, to, err := transfer(inv)
				if err != nil {
					return checker.Result{}, err
				}
				st.transfers++
				st.accts[from], st.accts[to] = true, true
			case "read":
				if p.Outcome(i) == histories.OK {
					readPairs = append(readPairs, i)
				}
			}
		}
		slices.SortFunc(readPairs, func(a, b int) int { return p.Pairs[a].Complete - p.Pairs[b].Complete })
		for _, i := range readPairs {
			b, err := readBalances(p, i)
			if err != nil {
				return checker.Result{}, err
			}
			st.reads = append(st.reads, b)
		}
		bank, kbad, note := c.checkBank(p, tl, st)
		d.Banks = append(d.Banks, bank)
		d.TransferCount += st.transfers
		d.ReadCount += len(st.reads)
		d.ErrorCount += len(kbad)
		bad = append(bad, kbad...)
		if note != "" {
			notes = append(notes, wl.KeyPrefix(k)+note)
		}
		v := checker.Valid
		switch {
		case len(kbad) > 0:
			v = checker.Invalid
		case len(st.reads) == 0:
			v = checker.Unknown
			unknown = append(unknown, wl.KeyPrefix(k)+"no read completed ok, so nothing shows the balances")
		}
		valid = checker.Merge(valid, d.Note(keyed, k, v))
	}
	slices.SortStableFunc(bad, func(a, b BadRead) int { return int(a.Read.Index - b.Read.Index) })
	types := map[string]bool{}
	if len(bad) > 0 {
		d.FirstError = &bad[0]
		d.Errors = map[string]*ErrorSummary{}
		for i := range bad {
			b := &bad[i]
			for _, t := range b.Types {
				types[t] = true
				s := d.Errors[t]
				if s == nil {
					s = &ErrorSummary{First: b, Worst: b}
					d.Errors[t] = s
				}
				s.Count++
				s.Last = b
				if badness(t, b) > badness(t, s.Worst) {
					s.Worst = b
				}
				if t == AnomalyWrongTotal {
					if s.Lowest == nil || *b.Total < *s.Lowest.Total {
						s.Lowest = b
					}
					if s.Highest == nil || *b.Total > *s.Highest.Total {
						s.Highest = b
					}
				}
			}
		}
		d.BadReads = bad[:min(len(bad), wl.MaxListed)]
	}

	res := checker.Result{Valid: valid, Details: d}
	for t := range types {
		res.AnomalyTypes = append(res.AnomalyTypes, t)
	}
	slices.Sort(res.AnomalyTypes)
	var parts []string
	if len(bad) > 0 {
		var names []string
		for _, b := range bad[:min(len(bad), wl.MaxNamed)] {
			names = append(names, describe(b, tl))
		}
		parts = append(parts, fmt.Sprintf("%s of %d wrong: %s", wl.Plural(len(bad), "read", "reads"), d.ReadCount, wl.List(names, len(bad), wl.MaxNamed)))
	}
	if valid == checker.Unknown {
		parts = append(parts, wl.List(unknown, len(unknown), 3))
	}
	counts := fmt.Sprintf("%s, %s", wl.Plural(d.TransferCount, "transfer", "transfers"), wl.Plural(d.ReadCount, "read", "reads"))
	if keyed {
		counts = fmt.Sprintf("%d keys, ", d.Keys) + counts
	}
	if len(d.Banks) == 1 && (d.Banks[0].Total != 0 || c.opts.Total != 0) {
		counts += fmt.Sprintf(", checked against the total %d and the accounts %s", d.Banks[0].Total, strings.Join(d.Banks[0].Accounts, " "))
	}
	if !c.opts.NegativeBalances {
		counts += ", no negative balance allowed"
	}
	parts = append(parts, counts)
	parts = append(parts, notes...)
	res.Summary = strings.Join(parts, ". ")
	return res, nil
}

// checkBank checks one key's reads.
func (c *Checker) checkBank(p *wl.Paired, tl wl.Timeline, st *bankState) (Bank, []BadRead, string) {
	bank := Bank{Key: st.key, Total: c.opts.Total, ReadCount: len(st.reads)}
	var notes []string
	if bank.Total == 0 {
		for _, r := range st.reads {
			if len(r.nils) == 0 {
				bank.Total = sum(r)
				ref := tl.Ref(p, r.pair, false, false)
				bank.TotalFrom = &ref
				notes = append(notes, fmt.Sprintf("no total given: %d is the total of the first ok read, %s", bank.Total, wl.RefText(ref, tl)))
				break
			}
		}
	}
	known := map[string]bool{}
	if len(c.opts.Accounts) > 0 {
		for _, a := range c.opts.Accounts {
			known[a] = true
		}
	} else {
		bank.AccountsInferred = true
		for a := range st.accts {
			known[a] = true
		}
		if len(st.reads) > 0 {
			for _, a := range st.reads[0].accts {
				known[a] = true
			}
		}
		if len(st.reads) > 0 || len(st.accts) > 0 {
			notes = append(notes, "no accounts given: they are those of the first ok read and of the transfers")
		}
	}
	for a := range known {
		bank.Accounts = append(bank.Accounts, a)
	}
	slices.SortFunc(bank.Accounts, wl.CompareKeys)
	if bank.Accounts == nil {
		bank.Accounts = []string{}
	}
	var bad []BadRead
	for _, r := range st.reads {
		br := BadRead{Key: st.key, Expected: bank.Total}
		for _, a := range r.accts {
			if !known[a] {
				br.Unexpected = append(br.Unexpected, a)
			}
		}
		if len(br.Unexpected) > 0 {
			br.Types = append(br.Types, AnomalyUnexpectedKey)
		}
		if len(r.nils) > 0 {
			br.Nils = r.nils
			br.Types = append(br.Types, AnomalyNilBalance)
		} else {
			t := sum(r)
			br.Total = &t
			if t != bank.Total {
				br.Types = append(br.Types, AnomalyWrongTotal)
			}
		}
		if !c.opts.NegativeBalances {
			for _, a := range r.accts {
				if b, ok := r.bal[a]; ok && b < 0 {
					if br.Negative == nil {
						br.Negative = map[string]int64{}
					}
					br.Negative[a] = b
				}
			}
			if br.Negative != nil {
				br.Types = append(br.Types, AnomalyNegativeValue)
			}
		}
		if len(br.Types) > 0 {
			br.Read = tl.Ref(p, r.pair, true, true)
			bad = append(bad, br)
		}
	}
	bank.ErrorCount = len(bad)
	return bank, bad, strings.Join(notes, "; ")
}

func sum(r balances) int64 {
	var t int64
	for _, b := range r.bal {
		t += b
	}
	return t
}

// badness is Jepsen's err-badness: bigger is more egregious.
func badness(t string, b *BadRead) float64 {
	switch t {
	case AnomalyUnexpectedKey:
		return float64(len(b.Unexpected))
	case AnomalyNilBalance:
		return float64(len(b.Nils))
	case AnomalyWrongTotal:
		if b.Expected == 0 {
			return math.Abs(float64(*b.Total))
		}
		return math.Abs(float64(*b.Total-b.Expected) / float64(b.Expected))
	case AnomalyNegativeValue:
		var s int64
		for _, v := range b.Negative {
			s -= v
		}
		return float64(s)
	}
	return 0
}

func describe(b BadRead, tl wl.Timeline) string {
	var what []string
	for _, t := range b.Types {
		switch t {
		case AnomalyUnexpectedKey:
			what = append(what, "unexpected accounts "+strings.Join(b.Unexpected, " "))
		case AnomalyNilBalance:
			what = append(what, "nil balances for "+strings.Join(b.Nils, " "))
		case AnomalyWrongTotal:
			what = append(what, fmt.Sprintf("total %d, not %d", *b.Total, b.Expected))
		case AnomalyNegativeValue:
			var ns []string
			for a, v := range b.Negative {
				ns = append(ns, fmt.Sprintf("%s at %d", a, v))
			}
			slices.Sort(ns)
			what = append(what, "negative balances "+strings.Join(ns, ", "))
		}
	}
	return fmt.Sprintf("%sthe read %s saw %s: %s", wl.KeyPrefix(b.Key), wl.RefText(b.Read, tl), histories.FormatValue(b.Read.Value), strings.Join(what, "; "))
}

// account names an account id: an integer as its digits, a string or
// keyword as itself.
func account(v any) (string, bool) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), true
	case string:
		return x, true
	case float64:
		if i, ok := wl.Int(x); ok {
			return strconv.FormatInt(i, 10), true
		}
	}
	return "", false
}

// transfer checks a transfer's shape: {:from a :to b :amount n}.
func transfer(inv *histories.Op) (from, to string, err error) {
	m, ok := inv.Value.(map[string]any)
	if !ok {
		return "", "", wl.Errorf(Name, inv, "a transfer's value is a map {:from a, :to b, :amount n}, not %s", wl.Shape(inv.Value))
	}
	for _, f := range []string{"from", "to"} {
		v, has := m[f]
		if !has {
			return "", "", wl.Errorf(Name, inv, "the transfer %s has no :%s", wl.Clip(histories.FormatValue(inv.Value)), f)
		}
		a, ok := account(v)
		if !ok {
			return "", "", wl.Errorf(Name, inv, "the transfer's :%s is %s, not an account id (an integer or a string)", f, wl.Shape(v))
		}
		if f == "from" {
			from = a
		} else {
			to = a
		}
	}
	amt, has := m["amount"]
	if !has {
		return "", "", wl.Errorf(Name, inv, "the transfer %s has no :amount", wl.Clip(histories.FormatValue(inv.Value)))
	}
	if _, ok := wl.Int(amt); !ok {
		return "", "", wl.Errorf(Name, inv, "the transfer's :amount is %s, not an integer", wl.Shape(amt))
	}
	return from, to, nil
}

// readBalances checks an ok read's value: a map of account to balance (an
// integer or nil).
func readBalances(p *wl.Paired, i int) (balances, error) {
	c := p.Comp(i)
	m, ok := c.Value.(map[string]any)
	if !ok {
		return balances{}, wl.Errorf(Name, c, "a read returns a map of account to balance, not %s", wl.Shape(c.Value))
	}
	b := balances{pair: i, bal: make(map[string]int64, len(m))}
	for a, v := range m {
		b.accts = append(b.accts, a)
		if v == nil {
			b.nils = append(b.nils, a)
			continue
		}
		n, ok := wl.Int(v)
		if !ok {
			return balances{}, wl.Errorf(Name, c, "account %s's balance is %s, not an integer or nil", a, wl.Shape(v))
		}
		b.bal[a] = n
	}
	slices.SortFunc(b.accts, wl.CompareKeys)
	slices.SortFunc(b.nils, wl.CompareKeys)
	return b, nil
}
