package main

import (
	"os"
	"testing"
)

// mainVar, set in a test binary's environment, makes it run the CLI's
// main with its arguments instead of the tests: the tests that need the
// command as a process of its own (signals) run their own binary so.
const mainVar = "NICPLUG_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainVar) == "1" {
		main()
	}
	os.Exit(m.Run())
}
