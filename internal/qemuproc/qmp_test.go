package qemuproc_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/qemuproc"
)

// fakeQMP serves each connection on a unix socket with greeting and then,
// after one command line, with answer.
func fakeQMP(t *testing.T, greeting, answer string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qmp.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(greeting + "\n"))
				buf := make([]byte, 512)
				if _, err := c.Read(buf); err == nil {
					c.Write([]byte(answer + "\n"))
				}
			}()
		}
	}()
	return path
}

func TestWaitQMP(t *testing.T) {
	const greeting = `{"QMP": {"version": {}, "capabilities": []}}`
	closed := make(chan struct{})
	close(closed)
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		exited  <-chan struct{}
		timeout time.Duration
		is      error  // errors.Is the error
		want    string // in the error
	}{
		{
			name:    "answers",
			path:    func(t *testing.T) string { return fakeQMP(t, greeting, `{"return": {}}`) },
			timeout: time.Minute,
		},
		{
			name:    "exited",
			path:    func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.sock") },
			exited:  closed,
			timeout: time.Minute,
			is:      qemuproc.ErrExited,
		},
		{
			name:    "no socket",
			path:    func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.sock") },
			timeout: 50 * time.Millisecond,
			is:      context.DeadlineExceeded,
			want:    "none.sock",
		},
		{
			name:    "not QMP",
			path:    func(t *testing.T) string { return fakeQMP(t, "SSH-2.0-OpenSSH", "") },
			timeout: 50 * time.Millisecond,
			is:      context.DeadlineExceeded,
			want:    "unexpected QMP greeting",
		},
		{
			name:    "capabilities refused",
			path:    func(t *testing.T) string { return fakeQMP(t, greeting, `{"error": {"class": "GenericError"}}`) },
			timeout: 50 * time.Millisecond,
			is:      context.DeadlineExceeded,
			want:    "unexpected answer to qmp_capabilities",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			err := qemuproc.WaitQMP(ctx, tt.path(t), tt.exited)
			if tt.is == nil {
				if err != nil {
					t.Fatalf("WaitQMP: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("WaitQMP = %v, want errors.Is %v and %q in it", err, tt.is, tt.want)
			}
		})
	}
}
