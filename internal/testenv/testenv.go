// Package testenv holds the test-only policy shared by every nicplug package:
// when a test that needs root, QEMU or another host facility may skip, and a
// launcher for guest-less QEMU processes.
//
// # Skips
//
// Tests that need privileges or QEMU call [RequireRoot] or [RequireQEMU].
// The QEMU binary is $NICPLUG_QEMU when set, else qemu-system-x86_64.
// On a developer machine without them the test skips with a specific reason.
// When the environment variable NICPLUG_CI is set to a non-empty value (CI
// sets it), such a skip becomes a test failure instead: CI never skips.
//
// # Kernel features
//
// Tests of a kernel feature the host may lack (bridge VLAN filtering,
// vhost-net) check nicplug's refusal where it is missing and log "NOT
// TESTED HERE"; [VLANFilteringVar] and [VhostNetVar], set by the run in
// a guest with Debian's kernel (internal/kernelvm), make a missing
// feature a failure instead. [TimeScaleVar] stretches the waits of guest
// tests run there under nested TCG.
//
// # QEMU
//
// [StartQEMU] starts a guest-less, paused QEMU for a test through package
// internal/qemuproc, waits until its QMP socket answers, and kills it and
// removes its files when the test ends.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/nicplug/nicplug/internal/qemuproc"
)

// CIVar is the environment variable that turns skips into failures.
const CIVar = "NICPLUG_CI"

// VLANFilteringVar, when set, says that the kernel's bridges filter VLANs
// (CONFIG_BRIDGE_VLAN_FILTERING): a test that probes for it then fails
// when the probe says no, instead of checking nicplug's refusal. The run
// in a guest with Debian's kernel (package internal/kernelvm) sets it, so
// that the VLAN success paths are proven there and cannot quietly fall
// back to the refusal.
const VLANFilteringVar = "NICPLUG_VLAN_FILTERING"

// WantVLANFiltering reports whether [VLANFilteringVar] is set.
func WantVLANFiltering() bool { return os.Getenv(VLANFilteringVar) != "" }

// VhostNetVar, when set, says that the kernel has vhost-net
// (/dev/vhost-net): a test of a vhost NIC then fails when the device is
// missing, instead of checking nicplug's refusal. The run in a guest with
// Debian's kernel (package internal/kernelvm) sets it, as it sets
// [VLANFilteringVar].
const VhostNetVar = "NICPLUG_VHOST_NET"

// WantVhostNet reports whether [VhostNetVar] is set.
func WantVhostNet() bool { return os.Getenv(VhostNetVar) != "" }

// TimeScaleVar multiplies the waits of tests that boot a guest, and the
// root package's per-test deadline (see [Scale]): a positive integer.
// internal/kernelvm sets it for the tests it runs under QEMU inside its
// own TCG guest (nested TCG, about 40 times slower than TCG on the host).
const TimeScaleVar = "NICPLUG_TIME_SCALE"

// Scale returns d multiplied by [TimeScaleVar], or d when it is unset or
// not a positive integer.
func Scale(d time.Duration) time.Duration {
	n, err := strconv.Atoi(os.Getenv(TimeScaleVar))
	if err != nil || n < 1 {
		return d
	}
	return d * time.Duration(n)
}

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

// RequireQEMU skips (or fails under CI) unless the QEMU binary every test
// uses is found: $NICPLUG_QEMU (a path, or a name in PATH), else
// qemu-system-x86_64 in PATH (see [qemuproc.Binary]). It returns the
// binary's path.
func RequireQEMU(t TB) string {
	t.Helper()
	bin := qemuproc.Binary()
	p, err := exec.LookPath(bin)
	if err != nil {
		hint := "apt-get install qemu-system-x86"
		if os.Getenv(qemuproc.BinaryVar) != "" {
			hint = "check " + qemuproc.BinaryVar
		}
		Skip(t, fmt.Sprintf("%s not found (%s)", bin, hint))
	}
	return p
}
