// Package uniqueids is Jepsen's unique-ids checker (jepsen.checker/
// unique-ids): a generator of unique ids must never return the same id
// twice.
//
// Ops: {:f :generate, :value nil} → id. Ids are integers, strings, floats
// or booleans (3.0 and 3 are one id); a list or a map is compared by its
// text. An ok generate that returns nil is an error naming its line; failed
// and crashed generates returned nothing and are only counted as
// attempted. Other :f and nemesis ops are ignored.
//
// Details are Jepsen's: attempted-count (generates invoked),
// acknowledged-count (ok), duplicated-count (ids returned more than once),
// duplicated (the 48 returned most often, each with its count and, beyond
// Jepsen, the first ops that returned it, named in the summary with their
// index, process, node and time) and range ([lowest highest], numbers
// before strings).
//
// Verdict: invalid if any id was returned twice; unknown if no generate
// returned an id (Jepsen calls that valid; there was nothing to check);
// else valid.
//
// Keys: ops that carry a key are one generator per key: an id may repeat
// across keys. Results merge invalid over unknown over valid.
//
// Cost: one pass and a hash map of ids, O(n).
package uniqueids
