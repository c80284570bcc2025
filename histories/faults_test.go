package histories

import (
	"reflect"
	"testing"
)

func TestSummarizeFaults(t *testing.T) {
	nem := func(t int64, f string, v any, err string) Op {
		return Op{Process: Nemesis, Type: Info, Time: t * 1e9, F: f, Value: v, Error: err}
	}
	client := func(t int64) Op { return Op{Process: 0, Type: OK, Time: t * 1e9, F: "read"} }
	h := History{
		client(0),
		nem(1, "start-partition", map[string]any{"n1": []any{"n2", "n3"}, "n2": []any{"n1"}, "n3": []any{"n1"}, "n10": []any{}}, ""),
		nem(4, "stop-partition", map[string]any{"n1": []any{"n2", "n3"}}, ""),
		nem(5, "start-kill", nil, "node n2: no such process"),
		nem(5, "start-kill", nil, "node n2: no such process"),
		nem(5, "stop-kill", nil, "node n2: restart: port in use"),
		nem(6, "start-kill", []any{"n10", "n2"}, ""),
		nem(8, "stop-kill", []any{"n10", "n2"}, ""),
		nem(9, "start-packet", map[string]any{"nodes": []any{"n3"}, "loss": 0.2}, ""),
		client(12),
	}
	h.Renumber()
	got := SummarizeFaults(h)
	want := []FaultStat{
		{Fault: "partition", Injected: 1, Seconds: 3, Nodes: []string{"n1", "n2", "n3"}},
		{Fault: "kill", Injected: 1, Failed: 2, Seconds: 2, Nodes: []string{"n2", "n10"},
			Errors: []string{"start-kill: node n2: no such process", "stop-kill: node n2: restart: port in use"}},
		{Fault: "packet", Injected: 1, Seconds: 3, Nodes: []string{"n3"}, Unhealed: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// A failed start opens no window: the report must not show a kill in
	// effect from second 5.
	ws, evs := FaultWindows(h)
	if len(ws) != 3 || ws[1].Start != 6e9 || len(evs) != 3 || evs[0].Error == "" {
		t.Fatalf("windows %+v events %+v", ws, evs)
	}
}
