package histories

import (
	"reflect"
	"strings"
	"testing"
)

func TestIndependent(t *testing.T) {
	in := `{:process 0, :type :invoke, :f :write, :value [3 1]}
{:process 0, :type :ok, :f :write, :value [3 1]}
{:process :nemesis, :type :info, :f :start, :value nil}
{:process 1, :type :invoke, :f :cas, :value ["k" [1 2]]}
{:process 1, :type :ok, :f :cas, :value ["k" [1 2]]}
{:process 2, :type :invoke, :f :read, :value [3 nil]}
{:process 2, :type :ok, :f :read, :value [3 1]}
`
	h, err := ReadEDN(strings.NewReader(in), "h.edn")
	if err != nil {
		t.Fatal(err)
	}
	if !LooksIndependent(h) {
		t.Fatal("an independent history not recognised")
	}
	s, err := SplitIndependent(h, "h.edn")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key string
		val any
	}{{"3", int64(1)}, {"3", int64(1)}, {"", nil}, {"k", []any{int64(1), int64(2)}}, {"k", []any{int64(1), int64(2)}}, {"3", nil}, {"3", int64(1)}}
	for i, w := range want {
		if s[i].Key != w.key || !reflect.DeepEqual(s[i].Value, w.val) {
			t.Errorf("op %d: key %q value %#v, want %q %#v", i, s[i].Key, s[i].Value, w.key, w.val)
		}
	}
	if h[0].Key != "" || !reflect.DeepEqual(h[0].Value, []any{int64(3), int64(1)}) {
		t.Errorf("SplitIndependent changed its input: %+v", h[0])
	}

	// Not independent: a plain cas-register history (cas values are pairs,
	// reads are not), keyed ops, pairs without reads or writes, and a
	// tuple whose key is not a number or a string.
	for name, text := range map[string]string{
		"cas-register": `{:process 0, :type :invoke, :f :cas, :value [1 2]}
{:process 0, :type :ok, :f :cas, :value [1 2]}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 2}`,
		"keyed":    `{:process 0, :type :invoke, :f :write, :key "x", :value [3 1]}`,
		"only cas": `{:process 0, :type :invoke, :f :cas, :value [1 2]}`,
		"list key": `{:process 0, :type :invoke, :f :write, :value [[1] 2]}`,
	} {
		h, err := ReadEDN(strings.NewReader(text), "h.edn")
		if err != nil {
			t.Fatal(err)
		}
		if LooksIndependent(h) {
			t.Errorf("%s: taken for an independent history", name)
		}
	}
	h, _ = ReadEDN(strings.NewReader("{:process 0, :type :invoke, :f :write, :value [3 1]}\n{:process 0, :type :ok, :f :write, :value 1}\n"), "h.edn")
	if _, err := SplitIndependent(h, "h.edn"); err == nil || !strings.Contains(err.Error(), "h.edn:2:") {
		t.Errorf("a value that is not a tuple: %v, want an error at h.edn:2", err)
	}
}
