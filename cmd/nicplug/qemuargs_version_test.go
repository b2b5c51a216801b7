package main

import (
	"context"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/internal/qemuproc"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationQEMUArgsAutoVersion: without --qemu-version, qemu-args
// asks the QEMU the helpers start ($NICPLUG_QEMU, else
// qemu-system-x86_64) for its version, so a hub NIC names the USO
// offloads off exactly where that QEMU has them (8.1 and newer); the
// arguments are then started by that QEMU (startCLIVM does, for every CLI
// test).
func TestIntegrationQEMUArgsAutoVersion(t *testing.T) {
	testenv.RequireQEMU(t)
	v, err := qemuproc.Version(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr := mustRun(t, 0, "qemu-args", "testdata/domain.xml")
	if stderr != "" {
		t.Errorf("stderr %q, want none", stderr)
	}
	if got, want := strings.Contains(stdout, `"host_uso":false`), v.AtLeast(8, 1); got != want {
		t.Errorf("QEMU %v: USO offloads named %v, want %v:\n%s", v, got, want, stdout)
	}
	any, _ := mustRun(t, 0, "qemu-args", "--qemu-version", "any", "testdata/domain.xml")
	if strings.Contains(any, "uso") {
		t.Errorf("--qemu-version any names USO offloads:\n%s", any)
	}
	if !v.AtLeast(8, 1) && any != stdout {
		t.Errorf("QEMU %v: auto differs from any:\n%s\nvs\n%s", v, stdout, any)
	}
	startCLIVM(t) // that QEMU accepts what auto gave
}

// TestQEMUArgsAutoVersionNoQEMU: a QEMU that cannot be asked gives the
// arguments of "any" and a one-line note, not a failure.
func TestQEMUArgsAutoVersionNoQEMU(t *testing.T) {
	t.Setenv(qemuproc.BinaryVar, "/nonexistent/qemu-system-x86_64")
	stdout, stderr := mustRun(t, 0, "qemu-args", "testdata/domain.xml")
	checkOneLine(t, stderr)
	if want := "nicplug: qemu-args: note: qemuproc: /nonexistent/qemu-system-x86_64 --version: "; !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr %q, want prefix %q", stderr, want)
	}
	if !strings.HasSuffix(stderr, "arguments for any supported QEMU (give --qemu-version)\n") {
		t.Errorf("stderr %q: no hint", stderr)
	}
	any, _ := mustRun(t, 0, "qemu-args", "--qemu-version=any", "testdata/domain.xml")
	if stdout != any {
		t.Errorf("stdout differs from --qemu-version=any:\n%s\nvs\n%s", stdout, any)
	}
	// Bad input still fails first, with no note.
	_, stderr = mustRun(t, 2, "qemu-args", "testdata/nope.xml")
	checkOneLine(t, stderr)
}
