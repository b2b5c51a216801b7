// Package testenv holds the test-only policy shared by every nicplug package:
// when a test that needs root, QEMU or another host facility may skip, and a
// launcher for guest-less QEMU processes.
//
// # Skips
//
// Tests that need privileges or QEMU call [RequireRoot] or [RequireQEMU].
// On a developer machine without them the test skips with a specific reason.
// When the environment variable NICPLUG_CI is set to a non-empty value (CI
// sets it), such a skip becomes a test failure instead: CI never skips.
//
// # QEMU
//
// [StartQEMU] starts a guest-less, paused QEMU for a test through package
// internal/qemuproc, waits until its QMP socket answers, and kills it and
// removes its files when the test ends.
package testenv

import (
	"os"
	"os/exec"
)

// CIVar is the environment variable that turns skips into failures.
const CIVar = "NICPLUG_CI"

// TB is the subset of testing.TB used here (keeps this package free of a
// testing import in non-test builds of callers).
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Strict reports whether skips must fail (NICPLUG_CI is set).
func Strict() bool { return os.Getenv(CIVar) != "" }

// Skip skips the test with reason, or fails it when [Strict] is true.
func Skip(t TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s (and %s is set: CI never skips)", reason, CIVar)
	}
	t.Skipf("skipping, %s", reason)
}

// RequireRoot skips (or fails under CI) unless the test runs as root.
func RequireRoot(t TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "not root")
	}
}

// QEMUBinary is the emulator every test uses.
const QEMUBinary = "qemu-system-x86_64"

// RequireQEMU skips (or fails under CI) unless qemu-system-x86_64 is on PATH.
// It returns the binary's path.
func RequireQEMU(t TB) string {
	t.Helper()
	p, err := exec.LookPath(QEMUBinary)
	if err != nil {
		Skip(t, QEMUBinary+" not found on PATH (apt-get install qemu-system-x86)")
	}
	return p
}
