package controller

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/reports"
)

// WriteResults writes what a check produced into dir: results.json,
// porcupine's visualization of each key that could not be linearized
// (annotated with the nemesis windows) in dir/linearizability/, which
// report.html links, report.html and junit.xml. It is
// shared by `faultline run` and `faultline check --out`, and returns the
// files written.
func WriteResults(dir, title string, h histories.History, out suite.Outcome) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "results.json")
	if err := writeJSON(p, out.Results); err != nil {
		return nil, err
	}
	files := []string{p}
	if out.Linearization != nil && out.Results.Valid == checker.Invalid {
		viz, err := out.Linearization.WriteVisualizations(dir, checker.NemesisAnnotations(h))
		if err != nil {
			return files, fmt.Errorf("write visualization: %w", err)
		}
		files = append(files, viz...)
	}
	if err := reports.Write(dir, h, out.Results, reports.Extras{Title: title}); err != nil {
		return files, fmt.Errorf("write report: %w", err)
	}
	return append(files, filepath.Join(dir, reports.HTMLFile), filepath.Join(dir, reports.JUnitFile)), nil
}
