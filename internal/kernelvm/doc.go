// Package kernelvm runs nicplug's kernel-dependent tests inside a guest
// booted with Debian bookworm's own kernel, for features that the kernel
// of the development and CI machines lacks. Its only content is a test:
// today the access-VLAN success paths (bridge VLAN filtering), which the
// host's kernel cannot run and therefore only refuses.
//
// The test compiles the test binaries of packages netif and nicplug on the
// host, boots a distribution guest with Debian's QEMU installed
// (guest.StackNetworkdQEMU) with them on a second disk
// (internal/guest.RunGoTests) and runs their VLAN tests there as root with
// NICPLUG_CI=1 and NICPLUG_VLAN_FILTERING=1, so that neither a skip nor a
// fall-back to the refusal path can pass. It exercises the guest's kernel, not the host's
// QEMU, so `make test-qemu10` does not run it again (its package starts
// QEMU only through guest.RunGoTests, which scripts/qemu-packages.sh does
// not list).
package kernelvm
