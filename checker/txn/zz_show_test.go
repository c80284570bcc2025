package txn

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

func TestZZShow(t *testing.T) {
	if os.Getenv("SHOW") == "" {
		t.Skip()
	}
	files, _ := filepath.Glob("../../testdata/txn/*.jsonl")
	for _, f := range files {
		r, _ := os.Open(f)
		h, _ := histories.ReadJSONL(r, f)
		r.Close()
		res, err := Check(h, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("=== %s\n%s\n", filepath.Base(f), res.Summary)
		for _, a := range res.Details.(*Details).Anomalies {
			for _, c := range a.Cases {
				fmt.Printf("--- %s\n%s\n", c.Type, c.Explanation)
			}
		}
	}
}
