//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFOInput: an IFACE.xml that is a FIFO nobody writes to fails at
// once as empty input (exit 2) instead of blocking the command in open(2)
// for good, where neither --timeout nor SIGINT reaches it.
func TestFIFOInput(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "iface.xml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var code int
	var stderr string
	go func() {
		defer close(done)
		code, _, stderr = runCmd(t, "plan", "--from", "testdata/domain.xml", fifo)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("plan of a FIFO without a writer still blocked after 10s")
	}
	if code != exitUsage || !strings.Contains(stderr, "iface.xml: domain: malformed XML: no root element") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
