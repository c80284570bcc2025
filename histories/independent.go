package histories

import "strconv"

// Jepsen's independent workloads (jepsen.independent) run one object per
// key and record each client op's value as a [key value] tuple (a Clojure
// MapEntry, printed as a two-element vector, or the tagged
// #jepsen.independent.tuple). faultline's histories carry the key in
// Op.Key instead; SplitIndependent converts.

// LooksIndependent reports whether h reads as a Jepsen independent history:
// no op has a Key, every client op's value is a [key value] tuple whose key
// is a number or a string, and some op is a read or a write. The last
// condition keeps a plain cas-register history (whose cas values [old new]
// are pairs too) from being taken for one: its reads and writes carry
// single values. Nemesis ops are not looked at.
func LooksIndependent(h History) bool {
	rw := false
	for i := range h {
		o := &h[i]
		if o.Process == Nemesis {
			continue
		}
		if o.Key != "" {
			return false
		}
		if _, _, ok := tuple(o.Value); !ok {
			return false
		}
		switch o.F {
		case "read", "write", "r", "w":
			rw = true
		}
	}
	return rw
}

// SplitIndependent returns h with each client op's [key value] tuple split
// into Op.Key and Op.Value. An op that already has a key, or whose value is
// not such a tuple, is an error naming its place in file.
func SplitIndependent(h History, file string) (History, error) {
	out := make(History, len(h))
	for i, o := range h {
		if o.Process != Nemesis {
			if o.Key != "" {
				return nil, errAt(file, lineOf(h, i), "op %d has a key (%s) and so is not a Jepsen independent [key value] op", o.Index, o.Key)
			}
			k, v, ok := tuple(o.Value)
			if !ok {
				return nil, errAt(file, lineOf(h, i), "op %d: value %s is not a Jepsen independent [key value] tuple", o.Index, clip(FormatValue(o.Value)))
			}
			o.Key, o.Value = k, v
		}
		out[i] = o
	}
	return out, nil
}

// tuple splits a [key value] pair whose key is a number or a string.
func tuple(v any) (key string, value any, ok bool) {
	t, isList := v.([]any)
	if !isList || len(t) != 2 {
		return "", nil, false
	}
	switch k := t[0].(type) {
	case int64:
		return strconv.FormatInt(k, 10), t[1], true
	case float64:
		return strconv.FormatFloat(k, 'g', -1, 64), t[1], true
	case string:
		return k, t[1], true
	}
	return "", nil, false
}
