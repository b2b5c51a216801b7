package e2e_test

import (
	"strings"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationHubOffloadFeatures boots the guest with nicplug's NIC
// (eth0: offloads turned off explicitly in its -device, as QEMUArgsFor
// generates for the QEMU under test) beside a hub-peered NIC with QEMU's
// defaults (eth1: offloads cleared silently by QEMU, nicplug's arguments
// before): the guest must see the same virtio feature bits on both, with
// CSUM(0), GUEST_CSUM(1), GUEST_TSO4(7) and HOST_TSO4(11) off.
func TestIntegrationHubOffloadFeatures(t *testing.T) {
	const oldMAC = "52:54:00:0f:7d:ae"
	r := boot(t, iface("user", ""), &nicplug.Config{CarrierHold: nicplug.NoCarrierHold},
		"-netdev", `{"type":"hubport","id":"old","hubid":7}`,
		"-device", `{"driver":"virtio-net-pci","id":"old0","netdev":"old","mac":"`+oldMAC+`"}`)
	features := func(mac string) string {
		t.Helper()
		out, code := r.exec(`for d in /sys/class/net/eth*; do if [ "$(cat $d/address)" = "` + mac + `" ]; then cat $d/device/features; fi; done`)
		if code != 0 || len(out) < 12 {
			t.Fatalf("no features for the NIC with MAC %s: %q (status %d)", mac, out, code)
		}
		return out
	}
	v := testenv.QEMUVersion(t)
	explicit, implicit := features(guestMAC), features(oldMAC)
	t.Logf("QEMU %v: guest features, offloads off explicitly: %s", v, explicit)
	t.Logf("QEMU %v: guest features, cleared by QEMU:         %s", v, implicit)
	if explicit != implicit {
		t.Errorf("QEMU %v: the guest sees different feature bits:\nexplicit %s\nimplicit %s", v, explicit, implicit)
	}
	for _, bit := range []int{0, 1, 7, 11} {
		if explicit[bit] != '0' {
			t.Errorf("QEMU %v: feature bit %d is on behind a hub: %s", v, bit, explicit)
		}
	}
	if !strings.ContainsRune(explicit, '1') {
		t.Errorf("QEMU %v: no feature bit at all: %s", v, explicit)
	}
}
