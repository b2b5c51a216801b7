// Package qemuproc starts the guest-less QEMU processes that nicplug's
// tests, examples and benchmarks drive over QMP, and waits for QMP to
// answer. It is support code, not part of nicplug's API.
//
// # Guest-less QEMU
//
// [Start] runs
//
//	qemu-system-x86_64 -S -nodefaults -display none -machine q35,accel=tcg -m 64
//	    -qmp unix:SOCK,server=on,wait=off … EXTRA…
//
// with its QMP socket(s) in a temporary directory (or where the caller
// says), through package child (so QEMU dies with this process), and
// returns once every QMP socket answers a command: a bad extra argument
// fails Start with QEMU's own message. [QEMU.Kill] kills and reaps QEMU and
// removes its files.
//
// # Waiting for QMP
//
// [WaitQMP] polls a QMP socket until QEMU greets and accepts
// qmp_capabilities; package guest uses it for the QEMU that boots a guest.
package qemuproc
