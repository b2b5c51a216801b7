package qmp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/qmp"
)

// TestExecuteFraming sends noise around the reply; the command must get its
// own reply every time.
func TestExecuteFraming(t *testing.T) {
	big := strings.Repeat("x", 300<<10) // beyond any 64 KiB line limit
	tests := []struct {
		name  string
		noise func(fc *fakeConn, r request)
		ret   string // the reply's return value
		log   string // expected in the client's log, if not empty
	}{
		{name: "plain", noise: func(*fakeConn, request) {}, ret: `{"a":1}`},
		{name: "event before reply", noise: func(fc *fakeConn, r request) {
			fc.send(`{"event": "NIC_RX_FILTER_CHANGED", "data": {"name": "net0"}, "timestamp": {"seconds": 1, "microseconds": 2}}`)
		}, ret: `{"a":2}`},
		{name: "unknown id", noise: func(fc *fakeConn, r request) {
			fc.send(`{"return": {"wrong": true}, "id": 987654321}`)
		}, ret: `{"a":3}`, log: "discarding reply nobody waits for"},
		{name: "foreign id", noise: func(fc *fakeConn, r request) {
			fc.send(`{"return": {"wrong": true}, "id": "libvirt-7"}`)
		}, ret: `{"a":4}`},
		{name: "reply without id", noise: func(fc *fakeConn, r request) {
			fc.send(`{"error": {"class": "GenericError", "desc": "JSON parse error"}}`)
		}, ret: `{"a":5}`, log: "discarding reply without a client id"},
		{name: "garbage and blank lines", noise: func(fc *fakeConn, r request) {
			fc.send("this is not json", "", "   ", `{"neither": "reply nor event"}`, `[1,2`)
		}, ret: `{"a":6}`, log: `msg="qmp: discarding unparseable line" line="this is not json"`},
		{name: "huge reply", noise: func(*fakeConn, request) {}, ret: `"` + big + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := startFake(t, func(fc *fakeConn) {
				fc.handshake()
				r := fc.mustRecv("x")
				tt.noise(fc, r)
				fc.reply(r, tt.ret)
				fc.waitHangup()
			})
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := dial(t, path, &qmp.Config{Logger: logger})
			got, err := c.Execute(ctxTimeout(t), "x", nil)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if string(got) != tt.ret {
				t.Errorf("Execute returned %.80s (%d bytes), want %.80s (%d bytes)", got, len(got), tt.ret, len(tt.ret))
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, logs.String())
			}
		})
	}
}

// TestExecuteSplitReply delivers a reply in pieces with pauses, so the
// client sees it across several reads.
func TestExecuteSplitReply(t *testing.T) {
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		r := fc.mustRecv("x")
		line := fmt.Sprintf(`{"return": {"status": "running", "running": true}, "id": %s}`+"\r\n", r.ID)
		for _, part := range []string{line[:1], line[1:10], line[10 : len(line)-1], line[len(line)-1:]} {
			fc.sendRaw(part)
			time.Sleep(20 * time.Millisecond)
		}
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	got, err := c.Execute(ctxTimeout(t), "x", nil)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if want := `{"status": "running", "running": true}`; string(got) != want {
		t.Errorf("Execute = %s, want %s", got, want)
	}
}

// TestExecuteOutOfOrder has the server answer a batch in reverse order: ids
// route each reply to its caller.
func TestExecuteOutOfOrder(t *testing.T) {
	const n = 16
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		var reqs []request
		for range n {
			reqs = append(reqs, fc.mustRecv("echo"))
		}
		for i := n - 1; i >= 0; i-- {
			fc.reply(reqs[i], string(reqs[i].Arguments))
		}
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			args := map[string]int{"n": i}
			got, err := c.Execute(ctxTimeout(t), "echo", args)
			if err != nil {
				t.Errorf("Execute %d: %v", i, err)
				return
			}
			if want := fmt.Sprintf(`{"n":%d}`, i); string(got) != want {
				t.Errorf("caller %d got %s, want %s", i, got, want)
			}
		})
	}
	wg.Wait()
}

func TestCommandError(t *testing.T) {
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		r := fc.mustRecv("netdev_del")
		fc.fail(r, "DeviceNotFound", "Device 'x' not found")
		fc.serve()
	})
	c := dial(t, path, nil)
	err := c.NetdevDel(ctxTimeout(t), "x")
	if want := "qmp: netdev_del: DeviceNotFound: Device 'x' not found"; err == nil || err.Error() != want {
		t.Errorf("NetdevDel error = %v, want %q", err, want)
	}
	var ce *qmp.CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *qmp.CommandError", err)
	}
	want := &qmp.CommandError{Command: "netdev_del", Class: "DeviceNotFound", Desc: "Device 'x' not found"}
	if diff := cmp.Diff(want, ce); diff != "" {
		t.Errorf("CommandError (-want +got):\n%s", diff)
	}
	if !qmp.IsClass(err, "DeviceNotFound") || qmp.IsClass(err, "GenericError") {
		t.Errorf("IsClass does not report DeviceNotFound alone for %v", err)
	}
	// The client is still usable.
	if _, err := c.Execute(ctxTimeout(t), "query-status", nil); err != nil {
		t.Errorf("Execute after an error reply: %v", err)
	}
}

func TestConnectionClosedMidLine(t *testing.T) {
	checkGoroutines(t)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		r := fc.mustRecv("x")
		fc.sendRaw(fmt.Sprintf(`{"return": {}, "id": %s`, r.ID)) // no newline, then hang up
	})
	c := dial(t, path, nil)
	_, err := c.Execute(ctxTimeout(t), "x", nil)
	wantClosed(t, err)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %v does not wrap io.ErrUnexpectedEOF", err)
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done not closed after the connection closed")
	}
	_, err = c.Execute(ctxTimeout(t), "y", nil)
	wantClosed(t, err)
	wantClosed(t, c.Err())
	c.Close()
}

func TestCloseUnblocksPending(t *testing.T) {
	checkGoroutines(t)
	const n = 3
	received := make(chan struct{}, n)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		for {
			if _, ok := fc.recv(); !ok {
				return
			}
			received <- struct{}{}
		}
	})
	c := dial(t, path, nil)
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Execute(context.Background(), "never-answered", nil)
			errs <- err
		}()
	}
	for range n {
		<-received
	}
	if c.Err() != nil {
		t.Errorf("Err() = %v before Close", c.Err())
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for range n {
		err := <-errs
		wantClosed(t, err)
		if want := "qmp: never-answered: monitor connection closed: closed by client"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed after Close returned")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := c.Execute(context.Background(), "after-close", nil)
	wantClosed(t, err)
}

// TestExecuteContextLateReply times a command out, then delivers its reply
// late: the next command must get its own reply, and the abandoned id is
// not reused before its late reply arrived (but is after).
func TestExecuteContextLateReply(t *testing.T) {
	returned := make(chan struct{})
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		first := fc.mustRecv("slow")
		<-returned
		second := fc.mustRecv("fast")
		if string(second.ID) == string(first.ID) {
			t.Errorf("fake: id %s reused while its reply was still due", first.ID)
		}
		fc.reply(first, `"late"`)
		fc.reply(second, `"mine"`)
		third := fc.mustRecv("third")
		if string(third.ID) != string(first.ID) {
			t.Errorf("fake: third command has id %s, want the freed id %s", third.ID, first.ID)
		}
		fc.reply(third, `"third"`)
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Execute(ctx, "slow", nil)
	close(returned)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Execute error %v, want context.DeadlineExceeded", err)
	}
	if want := "qmp: slow: context deadline exceeded"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	for _, cmd := range []string{"fast", "third"} {
		got, err := c.Execute(ctxTimeout(t), cmd, nil)
		if want := `"` + map[string]string{"fast": "mine", "third": "third"}[cmd] + `"`; err != nil || string(got) != want {
			t.Errorf("Execute %s after a timeout = %s, %v; want %s", cmd, got, err, want)
		}
	}
	// An already cancelled context sends nothing.
	cctx, ccancel := context.WithCancel(t.Context())
	ccancel()
	if _, err := c.Execute(cctx, "never-sent", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Execute with a cancelled context: %v", err)
	}
}

// TestWriteRespectsContext: the server stops reading, so writes block once
// the socket buffer is full. Waiting for the write lock and the write itself
// must both end with the context.
func TestWriteRespectsContext(t *testing.T) {
	checkGoroutines(t)
	stopReading := make(chan struct{})
	bigStarted := make(chan struct{})
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		// Read a first piece of the big command, then stop reading.
		b := make([]byte, 4096)
		if _, err := fc.c.Read(b); err != nil {
			t.Errorf("fake: read: %v", err)
		}
		close(bigStarted)
		<-stopReading
	})
	defer close(stopReading)
	c := dial(t, path, nil)
	huge := map[string]string{"blob": strings.Repeat("y", 16<<20)}
	bigCtx, bigCancel := context.WithCancel(t.Context())
	bigErr := make(chan error, 1)
	go func() {
		_, err := c.Execute(bigCtx, "big", huge)
		bigErr <- err
	}()
	<-bigStarted
	// A small command queued behind the blocked write times out.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Execute(ctx, "small", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("small Execute behind a blocked write: %v, want context.DeadlineExceeded", err)
	}
	select {
	case err := <-bigErr:
		t.Fatalf("big Execute returned early: %v", err)
	default:
	}
	bigCancel()
	select {
	case err := <-bigErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("big Execute: %v, want context.Canceled", err)
		}
		// Part of the command went out: the stream is unusable and closed.
		wantClosed(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("cancelling a blocked write did not return")
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("client not closed after a partial write")
	}
	c.Close()
}

func TestExecuteBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args any
		want string
	}{
		{name: "array", args: []int{1}, want: "qmp: x: arguments must encode as a JSON object"},
		{name: "string", args: "a", want: "qmp: x: arguments must encode as a JSON object"},
		{name: "unencodable", args: map[string]any{"f": func() {}}, want: "qmp: x: encode arguments: json: unsupported type"},
	}
	got := make(chan string, 1)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		r, _ := fc.recv()
		got <- r.Execute
		fc.reply(r, "{}")
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Execute(ctxTimeout(t), "x", tt.args)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Execute(%#v) = %v, want error starting %q", tt.args, err, tt.want)
			}
		})
	}
	if _, err := c.Execute(ctxTimeout(t), "", nil); err == nil {
		t.Error("Execute with an empty command succeeded")
	}
	if _, err := c.Execute(ctxTimeout(t), "marker", json.RawMessage(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	if cmd := <-got; cmd != "marker" {
		t.Errorf("server first saw %q, want \"marker\": a bad call sent something", cmd)
	}
}

// socketpair returns both ends of a connected unix stream socket pair.
func socketpair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	return conns[0], conns[1]
}

// TestNew runs the handshake on a connection made elsewhere (as with QEMU's
// -chardev socket,fd=N).
func TestNew(t *testing.T) {
	checkGoroutines(t)
	if _, err := qmp.New(t.Context(), nil, nil); err == nil || err.Error() != "qmp: new: nil connection" {
		t.Errorf("New(nil) = %v", err)
	}
	mine, theirs := socketpair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer theirs.Close()
		fc := &fakeConn{t: t, c: theirs}
		fc.handshake()
		fc.serve()
	}()
	c, err := qmp.New(ctxTimeout(t), mine, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := c.QueryStatus(ctxTimeout(t)); err != nil {
		t.Errorf("QueryStatus: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	<-done
}
