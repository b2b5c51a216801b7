package kernelvm_test

import (
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/testenv"
)

// nestedTimeScale stretches the e2e tests' waits (testenv.TimeScaleVar)
// for the busybox guest they boot under QEMU in this guest: nested TCG,
// where it takes about 2 minutes to its first carrier report instead of
// about 2 s.
const nestedTimeScale = "5"

// rootTimeScale stretches the root package's per-test deadline (60 s on
// the host) for its guest-less QEMU under this guest's TCG: its VLAN
// tests fault every step of 3 switches and took 21 s on an idle machine,
// 62 s on a loaded one (past the 60 s).
const rootTimeScale = "4"

// TestIntegrationKernelFeaturesInGuest runs nicplug's tests of the kernel
// features this machine's kernel lacks (bridge VLAN filtering, vhost-net)
// in one guest with Debian's kernel, which has both:
//   - package netif: SetAccessVLAN, bridge taps created with a VLAN, their
//     read-back (ReadTapPlug, PortVLANs), the undo of a failed change, and
//     pings between namespaces across a VLAN-filtering bridge that follow
//     each live change of a port's VLAN;
//   - package lab: LANs on access ports of two VLANs of one bridge;
//   - the root package: a NIC's VLAN changed through plans on the
//     guest's own QEMU (started with -S, no inner guest) on both
//     datapaths (tap: set-vlan on the fixed tap; hub: a switch to a new
//     bridge tap with the VLAN), a fault injected at every step and
//     rolled back, and the VLAN move of TestIntegrationTapFailedMoves;
//   - package e2e, with the busybox guest booted by the guest's QEMU
//     (nested TCG; its assets built on the host): a vhost-net NIC moved
//     bridge → direct → bridge → none with QEMU's vhost-net use checked
//     and the guest pinging on each LAN (TestIntegrationTapVhost), and a
//     booted guest moved between two VLANs on each datapath, leasing and
//     pinging on each and cut off from the other
//     (TestIntegration{Tap,Hub}VLANGuest).
func TestIntegrationKernelFeaturesInGuest(t *testing.T) {
	env := []string{testenv.VLANFilteringVar + "=1"}
	guest.RunGoTests(t, guest.StackNetworkdQEMU, &guest.Config{CPUs: 2, Memory: "2G"},
		guest.GoTest{
			Pkg:  "github.com/nicplug/nicplug/netif",
			Args: []string{"-test.run", "VLAN"},
			Env:  env,
			MustPass: []string{
				"TestIntegrationAccessVLAN",
				"TestIntegrationAccessVLANRestore",
				"TestIntegrationAccessVLANRefused",
				"TestIntegrationAccessVLANPing",
			},
			Timeout: 5 * time.Minute,
		},
		guest.GoTest{
			Pkg:      "github.com/nicplug/nicplug/internal/lab",
			Args:     []string{"-test.run", "^TestIntegrationVLANNetworks$"},
			Env:      env,
			MustPass: []string{"TestIntegrationVLANNetworks"},
			Timeout:  3 * time.Minute,
		},
		guest.GoTest{
			Pkg:      "github.com/nicplug/nicplug",
			Args:     []string{"-test.run", "^(TestIntegrationTapVLAN|TestIntegrationHubVLAN|TestIntegrationTapFailedMoves)$"},
			Env:      append([]string{testenv.TimeScaleVar + "=" + rootTimeScale}, env...),
			MustPass: []string{"TestIntegrationTapVLAN", "TestIntegrationHubVLAN", "TestIntegrationTapFailedMoves"},
			Timeout:  8 * time.Minute,
		},
		guest.GoTest{
			Pkg:      "github.com/nicplug/nicplug/e2e",
			Args:     []string{"-test.run", "^(TestIntegrationTapVhost|TestIntegrationTapVLANGuest|TestIntegrationHubVLANGuest)$"},
			Env:      append([]string{testenv.VhostNetVar + "=1", testenv.TimeScaleVar + "=" + nestedTimeScale}, env...),
			MustPass: []string{"TestIntegrationTapVhost", "TestIntegrationTapVLANGuest", "TestIntegrationHubVLANGuest"},
			Timeout:  25 * time.Minute,
			Guest:    true,
		})
}
