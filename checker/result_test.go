package checker

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMerge(t *testing.T) {
	cases := []struct {
		in   []Validity
		want Validity
	}{
		{nil, Valid},
		{[]Validity{Valid, Valid}, Valid},
		{[]Validity{Valid, Unknown}, Unknown},
		{[]Validity{Unknown, Invalid, Valid}, Invalid},
		{[]Validity{Invalid, Unknown}, Invalid},
	}
	for _, c := range cases {
		if got := Merge(c.in...); got != c.want {
			t.Errorf("Merge(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	for v, code := range map[Validity]int{Valid: 0, Invalid: 1, Unknown: 2} {
		if v.ExitCode() != code {
			t.Errorf("%v exits %d, want %d", v, v.ExitCode(), code)
		}
	}
}

func TestComposeLinearizableAndStats(t *testing.T) {
	h := hist(t,
		ev{p: 0, t: "invoke", f: "write", v: 1},
		ev{p: 0, t: "ok", f: "write", v: 1},
		ev{p: 1, t: "invoke", f: "read"},
		ev{p: 1, t: "ok", f: "read", v: 2},
	)
	lin, _, err := Linearizable(h, reg)
	if err != nil {
		t.Fatal(err)
	}
	res := Compose(map[string]Result{"linearizable": lin, "stats": Stats(h)}, nil)
	if res.Valid != Invalid || !reflect.DeepEqual(res.AnomalyTypes, []string{"nonlinearizable"}) {
		t.Fatalf("composed %+v", res)
	}
	js, err := res.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Valid    Validity `json:"valid"`
		Checkers map[string]struct {
			Valid   Validity       `json:"valid"`
			Details map[string]any `json:"details"`
		} `json:"checkers"`
		AnomalyTypes []string `json:"anomaly_types"`
		Not          []string `json:"not"`
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("results.json does not read back: %v\n%s", err, js)
	}
	if back.Valid != Invalid || back.Checkers["linearizable"].Valid != Invalid || back.Checkers["stats"].Valid != Valid || back.Not == nil {
		t.Errorf("read back %+v", back)
	}
	if f := back.Checkers["linearizable"].Details["failures"].([]any); len(f) != 1 {
		t.Errorf("failures %v", f)
	}

	// Unknown beats valid: a checker that timed out makes the whole run
	// unknown.
	res = Compose(map[string]Result{"a": {Valid: Valid}, "b": {Valid: Unknown}}, nil)
	if res.Valid != Unknown {
		t.Errorf("valid + unknown = %v", res.Valid)
	}
	js, _ = json.Marshal(res)
	wantContains(t, string(js), `"valid":"unknown"`)
}

// valid is a string everywhere in results.json, whatever the verdict, so
// that scripts read one type; old files with bare booleans still read.
func TestValidIsAlwaysAString(t *testing.T) {
	for _, v := range []Validity{Valid, Invalid, Unknown} {
		res := Compose(map[string]Result{"a": {Valid: v}}, nil)
		js, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		var raw struct {
			Valid    any                       `json:"valid"`
			Checkers map[string]map[string]any `json:"checkers"`
		}
		if err := json.Unmarshal(js, &raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw.Valid.(string); !ok {
			t.Errorf("%v: top-level valid is %T (%s)", v, raw.Valid, js)
		}
		if _, ok := raw.Checkers["a"]["valid"].(string); !ok {
			t.Errorf("%v: checker valid is %T (%s)", v, raw.Checkers["a"]["valid"], js)
		}
		var back Validity
		if err := json.Unmarshal([]byte(`"`+map[Validity]string{Valid: "true", Invalid: "false", Unknown: "unknown"}[v]+`"`), &back); err != nil || back != v {
			t.Errorf("%v does not read back: %v %v", v, back, err)
		}
	}
	for in, want := range map[string]Validity{"true": Valid, "false": Invalid} {
		var back Validity
		if err := json.Unmarshal([]byte(in), &back); err != nil || back != want {
			t.Errorf("old %s reads as %v, %v", in, back, err)
		}
	}
	var bad Validity
	if err := json.Unmarshal([]byte(`1`), &bad); err == nil {
		t.Error("1 read as a verdict")
	}
}

// A checker that forgets to set Valid has decided nothing: the zero
// Validity is unknown, in the composed verdict, its exit code and JSON.
func TestZeroValidityIsUnknown(t *testing.T) {
	var forgot Result
	if forgot.Valid != Unknown || forgot.Valid.ExitCode() != 2 || forgot.Valid.String() != "unknown" {
		t.Errorf("zero Validity: %v, exit %d", forgot.Valid, forgot.Valid.ExitCode())
	}
	res := Compose(map[string]Result{"ok": {Valid: Valid}, "forgot": {}}, nil)
	if res.Valid != Unknown {
		t.Errorf("valid + a result that never decided = %v, want unknown", res.Valid)
	}
	if b, _ := json.Marshal(forgot); !strings.Contains(string(b), `"valid":"unknown"`) {
		t.Errorf("zero Result in JSON: %s", b)
	}
	if res := Compose(nil, nil); res.Valid != Unknown {
		t.Errorf("nothing checked = %v, want unknown", res.Valid)
	}
	var zero Results
	if zero.Valid != Unknown {
		t.Errorf("zero Results: %v", zero.Valid)
	}
}
