package qemuproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/nicplug/nicplug/domain"
)

// BinaryVar is the environment variable that names the QEMU binary every
// helper starts: tests, the guest harness, benchmarks, the demo and the
// examples. A path or a name looked up in PATH; unset or empty means
// DefaultBinary. `make test-qemu10` sets it to the QEMU 10.0 that
// scripts/install-qemu10.sh unpacks beside the system's.
const BinaryVar = "NICPLUG_QEMU"

// DefaultBinary is the emulator used when BinaryVar is unset.
const DefaultBinary = "qemu-system-x86_64"

// Binary returns the QEMU binary to start: $NICPLUG_QEMU, else
// DefaultBinary.
func Binary() string {
	if b := os.Getenv(BinaryVar); b != "" {
		return b
	}
	return DefaultBinary
}

// Version runs `bin --version` (bin "" means [Binary]) and parses the
// first line it prints.
func Version(ctx context.Context, bin string) (domain.QEMUVersion, error) {
	if bin == "" {
		bin = Binary()
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return domain.QEMUVersion{}, fmt.Errorf("qemuproc: %s --version: %w", bin, err)
	}
	v, err := domain.ParseQEMUVersion(string(out))
	if err != nil {
		return domain.QEMUVersion{}, fmt.Errorf("qemuproc: %s: %w", bin, err)
	}
	return v, nil
}
