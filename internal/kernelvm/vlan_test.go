package kernelvm_test

import (
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationVLANInGuest runs netif's access-VLAN tests in a guest
// with Debian's kernel, which filters VLANs: SetAccessVLAN, bridge taps
// created with a VLAN, its read-back (ReadTapPlug, PortVLANs), the undo
// of a failed change, and pings between namespaces across a VLAN-filtering
// bridge that follow each live change of a port's VLAN.
func TestIntegrationVLANInGuest(t *testing.T) {
	guest.RunGoTests(t, guest.StackNetworkd, &guest.Config{CPUs: 2},
		guest.GoTest{
			Pkg:  "github.com/nicplug/nicplug/netif",
			Args: []string{"-test.run", "VLAN"},
			Env:  []string{testenv.VLANFilteringVar + "=1"},
			MustPass: []string{
				"TestIntegrationAccessVLAN",
				"TestIntegrationAccessVLANRestore",
				"TestIntegrationAccessVLANRefused",
				"TestIntegrationAccessVLANPing",
			},
			Timeout: 5 * time.Minute,
		})
}
