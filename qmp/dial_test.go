package qmp_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/qmp"
)

func TestDialHandshake(t *testing.T) {
	tests := []struct {
		name     string
		cfg      *qmp.Config
		wantArgs string
	}{
		{name: "nil config", cfg: nil, wantArgs: ""},
		{name: "enable oob", cfg: &qmp.Config{Enable: []string{"oob"}}, wantArgs: `{"enable":["oob"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			got := make(chan request, 1)
			path := startFake(t, func(fc *fakeConn) {
				fc.send(greeting)
				r := fc.mustRecv("qmp_capabilities")
				got <- r
				// An event may come before the reply.
				fc.send(`{"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}}`)
				fc.reply(r, "{}")
				fc.serve()
			})
			c := dial(t, path, tt.cfg)
			want := qmp.Version{Major: 7, Minor: 2, Micro: 22, Package: "Debian 1:7.2+dfsg-7+deb12u18+b3"}
			if diff := cmp.Diff(want, c.Version()); diff != "" {
				t.Errorf("Version() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"oob"}, c.Capabilities()); diff != "" {
				t.Errorf("Capabilities() (-want +got):\n%s", diff)
			}
			r := <-got
			if string(r.Arguments) != tt.wantArgs {
				t.Errorf("qmp_capabilities arguments = %s, want %q", r.Arguments, tt.wantArgs)
			}
			if len(r.ID) == 0 {
				t.Errorf("qmp_capabilities sent without an id")
			}
			if _, err := c.Execute(ctxTimeout(t), "query-status", nil); err != nil {
				t.Errorf("Execute after handshake: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestDialGreetingErrors(t *testing.T) {
	tests := []struct {
		name    string
		server  func(fc *fakeConn)
		timeout time.Duration
		want    string // substring of the error
		wantIs  error
	}{
		{
			name:   "garbage greeting",
			server: func(fc *fakeConn) { fc.send("hello there") },
			want:   "qmp: greeting: monitor connection closed: bad greeting", wantIs: qmp.ErrClosed,
		},
		{
			name:   "not a greeting",
			server: func(fc *fakeConn) { fc.send(`{"event": "SHUTDOWN"}`) },
			want:   "not a QMP greeting", wantIs: qmp.ErrClosed,
		},
		{
			name:   "hang-up before greeting",
			server: func(fc *fakeConn) {},
			want:   "reading greeting: EOF", wantIs: io.EOF,
		},
		{
			name:   "hang-up inside greeting",
			server: func(fc *fakeConn) { fc.sendRaw(`{"QMP": {"version"`) },
			want:   "reading greeting: unexpected EOF", wantIs: io.ErrUnexpectedEOF,
		},
		{
			name: "capabilities refused",
			server: func(fc *fakeConn) {
				fc.send(greeting)
				r := fc.mustRecv("qmp_capabilities")
				fc.fail(r, "GenericError", "nope")
				fc.waitHangup()
			},
			want: "qmp: qmp_capabilities: GenericError: nope",
		},
		{
			name:    "silent server",
			server:  func(fc *fakeConn) { fc.waitHangup() },
			timeout: 100 * time.Millisecond,
			want:    "qmp: greeting: context deadline exceeded", wantIs: context.DeadlineExceeded,
		},
		{
			name: "no capabilities reply",
			server: func(fc *fakeConn) {
				fc.send(greeting)
				fc.waitHangup()
			},
			timeout: 100 * time.Millisecond,
			want:    "qmp: qmp_capabilities: context deadline exceeded", wantIs: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			path := startFake(t, tt.server)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			c, err := qmp.Dial(ctx, path, nil)
			if err == nil {
				c.Close()
				t.Fatalf("Dial succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dial error %q, want it to contain %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Dial error %v does not match %v", err, tt.wantIs)
			}
		})
	}
}

func TestDialNoSocket(t *testing.T) {
	_, err := qmp.Dial(t.Context(), t.TempDir()+"/missing.sock", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "qmp: dial: ") {
		t.Errorf("Dial of a missing socket: %v, want a qmp: dial: error", err)
	}
}
