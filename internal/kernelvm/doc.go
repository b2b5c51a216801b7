// Package kernelvm runs nicplug's kernel-dependent tests inside a guest
// booted with Debian bookworm's own kernel, for features that the kernel
// of the development and CI machines lacks: bridge VLAN filtering (access
// VLANs) and vhost-net. Its only content is a test; the host's kernel
// can run these tests' refusal paths only.
//
// The test compiles the test binaries of packages netif, internal/lab,
// nicplug and e2e on the host, boots a distribution guest with Debian's
// QEMU, busybox-static and radvd installed (guest.StackNetworkdQEMU)
// with them on a second disk (internal/guest.RunGoTests), together with
// the busybox test guest's kernel and initramfs built on the host
// (GoTest.Guest), and runs their VLAN and vhost-net tests there as root
// with NICPLUG_CI=1, NICPLUG_VLAN_FILTERING=1 and NICPLUG_VHOST_NET=1, so
// that neither a skip nor a fall-back to a refusal path can pass. The e2e
// tests boot the busybox guest under the guest's QEMU: TCG inside TCG,
// about 40 times slower than on the host (some 100–140 s to its first
// carrier report), so their waits are stretched (NICPLUG_TIME_SCALE).
// It exercises the guest's kernel, not the host's QEMU, so `make
// test-qemu10` does not run it again (its package starts QEMU only
// through guest.RunGoTests, which scripts/qemu-packages.sh does not
// list).
package kernelvm
