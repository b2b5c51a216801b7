package guest_test

import (
	"strings"
	"testing"

	"github.com/nicplug/nicplug/internal/guest"
)

// TestIntegrationDistroBoot boots each distribution guest on QEMU's user
// network: its stack takes a DHCP lease on eth0, the reporter sees
// carrier, the address and a ping of the gateway, and the command channel
// answers.
func TestIntegrationDistroBoot(t *testing.T) {
	for _, stack := range []guest.Stack{guest.StackNetworkd, guest.StackNetworkManager} {
		t.Run(string(stack), func(t *testing.T) {
			g := guest.StartDistro(t, stack, &guest.Config{ExtraArgs: []string{
				"-netdev", "user,id=u0", "-device", "virtio-net-pci,netdev=u0,mac=52:54:00:0f:7d:ad"}})
			ready := waitEv(t, g, 0, guest.KindReady)
			if ready.Fields["mac"] != "52:54:00:0f:7d:ad" || ready.Fields["stack"] != string(stack) {
				t.Errorf("ready: %s", ready.Raw)
			}
			waitEv(t, g, 0, guest.KindCarrier, "1")
			waitEv(t, g, 0, guest.KindAddr, "10.0.2.15/24")
			waitEv(t, g, 0, guest.KindPing, "10.0.2.2", "ok")
			if out := execOK(t, g, "cat /etc/nicplug-stack"); strings.TrimSpace(out) != string(stack) {
				t.Errorf("stack file: %q", out)
			}
		})
	}
}
