package qmp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/qmp"
)

// TestLineTooLong: a monitor line beyond the limit closes the connection
// with a clear error, after the client read little more than the limit (a
// fake monitor sending 64 MiB on one line is cut off long before the end).
func TestLineTooLong(t *testing.T) {
	checkGoroutines(t)
	const total = 64 << 20
	written := make(chan int, 1)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		fc.mustRecv("x")
		chunk := []byte(`{"return": "` + strings.Repeat("y", 1<<20))
		n := 0
		for n < total {
			m, err := fc.c.Write(chunk)
			n += m
			if err != nil {
				break
			}
			chunk = chunk[len(chunk)-1<<20:] // the rest are y's
		}
		written <- n
		b := make([]byte, 4096)
		for { // until the client hangs up
			if _, err := fc.c.Read(b); err != nil {
				return
			}
		}
	})
	c := dial(t, path, nil)
	_, err := c.Execute(ctxTimeout(t), "x", nil)
	if !errors.Is(err, qmp.ErrLineTooLong) || !errors.Is(err, qmp.ErrClosed) {
		t.Fatalf("Execute: %v, want ErrLineTooLong and ErrClosed", err)
	}
	const want = `qmp: x: monitor connection closed: monitor sent a line longer than 16 MiB (the limit, qmp.Config.MaxLine), starting "{\"return\": \"yyyyyyyyyyyyyyyyyyyyyyyyyyyy"…`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant\n%s", err, want)
	}
	select {
	case n := <-written:
		if n >= total {
			t.Errorf("the client read all %d bytes of the line", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the fake monitor is still writing")
	}
}

// TestMaxLine: Config.MaxLine counts the newline; a line of exactly the
// limit is read, one byte more is refused. A long reply below the default
// limit (4 MiB, 20 times query-qmp-schema) passes.
func TestMaxLine(t *testing.T) {
	reply := func(n int) string {
		head := `{"id": 1, "return": "`
		return head + strings.Repeat("z", n-len(head)-3) + "\"}\n"
	}
	tests := []struct {
		name    string
		maxLine int
		line    string
		wantErr bool
	}{
		{"exactly the limit", 200, reply(200), false},
		{"one byte more", 200, reply(201), true},
		{"within the bufio buffer", 100 << 10, reply(100<<10 + 1), true},
		{"4 MiB with the default", 0, reply(4 << 20), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := startFake(t, func(fc *fakeConn) {
				fc.handshake()
				fc.mustRecv("x")
				fc.sendRaw(tt.line)
				fc.waitHangup()
			})
			c := dial(t, path, &qmp.Config{MaxLine: tt.maxLine})
			got, err := c.Execute(ctxTimeout(t), "x", nil)
			if tt.wantErr {
				if !errors.Is(err, qmp.ErrLineTooLong) {
					t.Fatalf("Execute: %v, want ErrLineTooLong", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if want := len(tt.line) - len(`{"id": 1, "return": }`) - 1; len(got) != want {
				t.Errorf("reply of %d bytes, want %d", len(got), want)
			}
		})
	}
}

// TestGarbageReplies: a monitor that answers lines that are not QMP makes
// the command fail, when its context ends, with an error that says so and
// quotes the last line on one line, cut.
func TestGarbageReplies(t *testing.T) {
	checkGoroutines(t)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		fc.mustRecv("query-status")
		fc.send("hello", `{"neither": "reply nor event"}`, "Welcome to the\tmachine "+strings.Repeat("blah ", 100))
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	_, err := c.Execute(ctx, "query-status", nil)
	if !errors.Is(err, qmp.ErrNotQMP) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Execute: %v, want ErrNotQMP and DeadlineExceeded", err)
	}
	const want = `qmp: query-status: no reply, the monitor sent 3 lines that are not QMP, the last "Welcome to the\tmachine blah blah blah blah blah blah blah bl"… (context deadline exceeded)`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant\n%s", err, want)
	}
	// A silent monitor is still just a timeout.
	ctx2, cancel2 := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel2()
	if _, err := c.Execute(ctx2, "query-status", nil); errors.Is(err, qmp.ErrNotQMP) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Execute on a silent monitor: %v, want a plain deadline", err)
	}
}

// TestDialNotSocket: dialing a path that exists but is no socket says so
// rather than "connection refused".
func TestDialNotSocket(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "qmp.sock")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A socket nobody listens on still says connection refused.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	tests := []struct{ path, want string }{
		{file, fmt.Sprintf("qmp: dial: %s is not a socket (a regular file): dial unix %s: connect: connection refused", file, file)},
		{dir, fmt.Sprintf("qmp: dial: %s is not a socket (a directory): dial unix %s: connect: connection refused", dir, dir)},
		{stale, fmt.Sprintf("qmp: dial: dial unix %s: connect: connection refused", stale)},
	}
	for _, tt := range tests {
		_, err := qmp.Dial(t.Context(), tt.path, nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Dial(%s): %v\nwant %s", tt.path, err, tt.want)
		}
	}
}
