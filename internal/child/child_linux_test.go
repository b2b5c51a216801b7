package child_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nicplug/nicplug/internal/child"
)

// report returns the process's parent-death signal and whether it leads
// its own process group.
func report() string {
	var sig int32
	if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("pdeathsig=%d own-pgrp=%t", sig, syscall.Getpgrp() == os.Getpid())
}

// TestDeathSignal checks the signal the child gets and that the caller's
// SysProcAttr is merged in, not replaced nor modified.
func TestDeathSignal(t *testing.T) {
	tests := []struct {
		name string
		attr *syscall.SysProcAttr
		want string
	}{
		{"no attr", nil, "pdeathsig=9 own-pgrp=false"},
		{"caller's attr kept", &syscall.SysProcAttr{Setpgid: true}, "pdeathsig=9 own-pgrp=true"},
		{"caller's signal kept", &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}, "pdeathsig=15 own-pgrp=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before syscall.SysProcAttr
			if tt.attr != nil {
				before = *tt.attr
			}
			cmd := helperCmd("report")
			cmd.SysProcAttr = tt.attr
			var out strings.Builder
			cmd.Stdout = &out
			p, err := child.Start(cmd)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			if want, got := tt.want, strings.TrimSpace(out.String()); got != want {
				t.Errorf("child reports %q, want %q", got, want)
			}
			if tt.attr != nil && (tt.attr.Pdeathsig != before.Pdeathsig || tt.attr.Setpgid != before.Setpgid) {
				t.Errorf("caller's SysProcAttr modified: %+v, was %+v", *tt.attr, before)
			}
		})
	}
}

// TestDiesWithParent runs a process that starts a child and exits without
// killing it: the kernel must kill the child.
func TestDiesWithParent(t *testing.T) {
	out, err := helperCmd("parent").Output()
	if err != nil {
		t.Fatalf("parent: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("parent printed %q, want a pid", out)
	}
	deadline := time.Now().Add(time.Minute)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still runs a minute after its parent exited", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	f, err := os.Open(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	// "pid (comm) S …": the state follows the last ')'.
	i := strings.LastIndexByte(line, ')')
	return i < 0 || i+2 >= len(line) || line[i+2] != 'Z'
}

// destroyThreads makes Go end n OS threads: each goroutine exits locked.
func destroyThreads(n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			runtime.LockOSThread()
			// Let the scheduler spread the goroutines over the threads.
			runtime.Gosched()
		})
	}
	wg.Wait()
}

// naiveStart starts cmd with a parent-death signal from the calling
// goroutine's current thread, like a plain cmd.Start: the bug Start avoids.
func naiveStart(t *testing.T, cmd *exec.Cmd) (done <-chan struct{}) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() { cmd.Wait(); close(ch) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-ch })
	return ch
}

// TestSurvivesThreadExits starts a child, then lets many goroutines end
// their OS threads (what package netif does after namespace switches): the
// child must live on. A child started naively with the same parent-death
// signal from the same goroutine serves as the control: the thread churn
// usually kills it, showing it reached the threads that matter.
func TestSurvivesThreadExits(t *testing.T) {
	p, err := child.Start(helperCmd("sleep"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	control := naiveStart(t, helperCmd("sleep"))
	controlDied := false
	for round := 0; round < 50 && !controlDied; round++ {
		destroyThreads(64)
		select {
		case <-control:
			controlDied = true
		case <-p.Done():
			t.Fatalf("child killed in round %d of thread exits: %v", round, p.Err())
		default:
		}
	}
	t.Logf("naively started control killed by the thread exits: %t", controlDied)
	// The signal is sent as the thread exits; give the reaper a moment.
	select {
	case <-p.Done():
		t.Fatalf("child killed by thread exits: %v", p.Err())
	case <-time.After(200 * time.Millisecond):
	}
	if !alive(p.Pid()) {
		t.Fatalf("child %d is gone", p.Pid())
	}
	p.Kill()
	var ee *exec.ExitError
	if !errors.As(p.Err(), &ee) {
		t.Errorf("Err after Kill = %v, want an *exec.ExitError", p.Err())
	}
}
