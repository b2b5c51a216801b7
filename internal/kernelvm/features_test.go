package kernelvm_test

import (
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationVLANInGuest runs nicplug's access-VLAN tests in one guest
// with Debian's kernel, which filters VLANs:
//   - package netif: SetAccessVLAN, bridge taps created with a VLAN, their
//     read-back (ReadTapPlug, PortVLANs), the undo of a failed change, and
//     pings between namespaces across a VLAN-filtering bridge that follow
//     each live change of a port's VLAN;
//   - the root package: a NIC's VLAN changed through plans on the
//     guest's own QEMU (started with -S, no inner guest) on both
//     datapaths (tap: set-vlan on the fixed tap; hub: a switch to a new
//     bridge tap with the VLAN), a fault injected at every step and
//     rolled back, and the VLAN move of TestIntegrationTapFailedMoves.
func TestIntegrationVLANInGuest(t *testing.T) {
	env := []string{testenv.VLANFilteringVar + "=1"}
	guest.RunGoTests(t, guest.StackNetworkdQEMU, &guest.Config{CPUs: 2, Memory: "1G"},
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
			Pkg:      "github.com/nicplug/nicplug",
			Args:     []string{"-test.run", "^(TestIntegrationTapVLAN|TestIntegrationHubVLAN|TestIntegrationTapFailedMoves)$"},
			Env:      env,
			MustPass: []string{"TestIntegrationTapVLAN", "TestIntegrationHubVLAN", "TestIntegrationTapFailedMoves"},
			Timeout:  8 * time.Minute,
		})
}
