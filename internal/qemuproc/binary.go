package qemuproc

import "os"

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
