//go:build !linux

package child_test

// report has nothing to report: there is no parent-death signal here.
func report() string { return "" }
