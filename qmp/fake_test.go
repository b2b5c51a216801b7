package qmp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nicplug/nicplug/qmp"
)

// greeting is what QEMU 7.2 sends (with a made-up package string).
const greeting = `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}`

// fakeConn is the server side of one QMP connection in a test. Its methods
// report problems with t.Errorf (they run on the handler goroutine).
type fakeConn struct {
	t   *testing.T
	c   *net.UnixConn
	buf []byte // received bytes not yet returned as a request
	fds []int  // descriptors received with the bytes in buf
	// fdsEnd is the offset in buf where the recvmsg that brought fds
	// ended: the kernel ends a read after a message carrying descriptors,
	// so they belong to the line ending there.
	fdsEnd int
}

// request is one command the fake received.
type request struct {
	Execute   string          `json:"execute"`
	Arguments json.RawMessage `json:"arguments"`
	ID        json.RawMessage `json:"id"`
	// FDs are descriptors that arrived (as SCM_RIGHTS) in a recvmsg that
	// ended exactly with this request's line.
	FDs []int `json:"-"`
}

// startFake listens on a fresh unix socket and runs handler on the first
// connection. The connection is closed when handler returns; cleanup waits
// for the handler.
func startFake(t *testing.T, handler func(fc *fakeConn)) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qmpfake")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.AcceptUnix()
		if err != nil {
			return // listener closed before a client came
		}
		defer c.Close()
		fc := &fakeConn{t: t, c: c}
		handler(fc)
		fc.closeFDs()
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("fake QMP handler still running 30s after the test")
		}
		os.RemoveAll(dir)
	})
	return path
}

func (fc *fakeConn) send(lines ...string) {
	for _, l := range lines {
		if _, err := fc.c.Write([]byte(l + "\r\n")); err != nil {
			fc.t.Errorf("fake: write: %v", err)
			return
		}
	}
}

// sendRaw writes s exactly as given.
func (fc *fakeConn) sendRaw(s string) {
	if _, err := fc.c.Write([]byte(s)); err != nil {
		fc.t.Errorf("fake: write: %v", err)
	}
}

// recv returns the next command, or false when the client hung up.
func (fc *fakeConn) recv() (request, bool) {
	for {
		if i := bytes.IndexByte(fc.buf, '\n'); i >= 0 {
			line := fc.buf[:i]
			fc.buf = fc.buf[i+1:]
			var r request
			if err := json.Unmarshal(line, &r); err != nil {
				fc.t.Errorf("fake: client sent bad JSON %q: %v", line, err)
				return request{}, false
			}
			if len(fc.fds) > 0 && fc.fdsEnd == i+1 {
				r.FDs, fc.fds = fc.fds, nil
			}
			fc.fdsEnd -= i + 1
			return r, true
		}
		b := make([]byte, 4096)
		oob := make([]byte, syscall.CmsgSpace(16*4))
		n, oobn, _, _, err := fc.c.ReadMsgUnix(b, oob)
		if oobn > 0 {
			fc.closeFDs() // fds not claimed by the previous line
			msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
			if perr != nil {
				fc.t.Errorf("fake: %v", perr)
			}
			for _, m := range msgs {
				fds, perr := syscall.ParseUnixRights(&m)
				if perr != nil {
					fc.t.Errorf("fake: %v", perr)
				}
				fc.fds = append(fc.fds, fds...)
			}
		}
		fc.buf = append(fc.buf, b[:n]...)
		if oobn > 0 {
			fc.fdsEnd = len(fc.buf)
		}
		if err != nil {
			return request{}, false
		}
	}
}

func (fc *fakeConn) closeFDs() {
	for _, fd := range fc.fds {
		syscall.Close(fd)
	}
	fc.fds = nil
}

// mustRecv is recv that reports a hang-up as an error.
func (fc *fakeConn) mustRecv(want string) request {
	r, ok := fc.recv()
	if !ok {
		fc.t.Errorf("fake: client hung up, want %q", want)
	} else if r.Execute != want {
		fc.t.Errorf("fake: got command %q, want %q", r.Execute, want)
	}
	return r
}

// reply answers r with return value ret (JSON).
func (fc *fakeConn) reply(r request, ret string) {
	fc.send(fmt.Sprintf(`{"return": %s, "id": %s}`, ret, r.ID))
}

// fail answers r with an error reply.
func (fc *fakeConn) fail(r request, class, desc string) {
	fc.send(fmt.Sprintf(`{"error": {"class": %q, "desc": %q}, "id": %s}`, class, desc, r.ID))
}

// handshake plays QEMU's side of connecting.
func (fc *fakeConn) handshake() {
	fc.send(greeting)
	r := fc.mustRecv("qmp_capabilities")
	fc.reply(r, "{}")
}

// waitHangup blocks until the client closes the connection.
func (fc *fakeConn) waitHangup() {
	for {
		if _, ok := fc.recv(); !ok {
			return
		}
	}
}

// serve answers every command with {} until the client hangs up.
func (fc *fakeConn) serve() {
	for {
		r, ok := fc.recv()
		if !ok {
			return
		}
		fc.reply(r, "{}")
	}
}

func dial(t testing.TB, path string, cfg *qmp.Config) *qmp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, path, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ctxTimeout is a context for one step of a test: generous, so a loaded
// machine does not fail tests, yet a hang still ends.
func ctxTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkGoroutines fails the test if, after everything else in cleanup ran,
// more goroutines live than when it was called. Call it first in a test.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(20 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// wantClosed checks that err reports a closed monitor connection.
func wantClosed(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("got error %v, want one matching qmp.ErrClosed", err)
	}
	if err != nil && !strings.Contains(err.Error(), "monitor connection closed") {
		t.Errorf("error %q does not say the monitor connection is closed", err)
	}
}

var _ = io.EOF
