// Package gen generates synthetic histories with known verdicts, for
// benchmarks and tests of the checkers and the CLI: histories of simulated
// systems that are correct by construction.
package gen
