package child_test

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/child"
)

// helperEnv selects what the test binary does when it runs as a child.
const helperEnv = "NICPLUG_CHILD_HELPER"

// init keeps the main goroutine on the main thread: the parent-death
// signal is a per-thread attribute (a new thread starts with none), and the
// "report" helper must read the one set on the thread that exec'd.
func init() { runtime.LockOSThread() }

// TestMain runs the helper modes when the test binary is its own child.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper runs one helper mode and returns the exit status:
//
//	sleep    sleeps for an hour
//	exit=N   exits with status N
//	report   prints what report (per OS) says about the process
//	parent   starts a sleeping child with child.Start, prints its pid and
//	         exits without killing it
func helper(mode string) int {
	switch {
	case mode == "sleep":
		time.Sleep(time.Hour)
		return 0
	case len(mode) > 5 && mode[:5] == "exit=":
		n, _ := strconv.Atoi(mode[5:])
		return n
	case mode == "report":
		fmt.Println(report())
		return 0
	case mode == "parent":
		p, err := child.Start(helperCmd("sleep"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(p.Pid())
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
}

// helperCmd returns a command that runs this test binary in helper mode.
func helperCmd(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}
