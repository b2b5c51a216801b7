package nicplug

import (
	"errors"
	"testing"

	"github.com/nicplug/nicplug/backend"
)

// TestQuickViewFallsBack: the check of a plan made from what the VM knows
// gives up (ok false) when `info network` does not show the NICs as the VM
// knows them.
func TestQuickViewFallsBack(t *testing.T) {
	known := &State{VM: "vm", Running: true, NICs: []NICState{{Device: "net0", MAC: "52:54:00:00:00:01", Peer: "np.net0.nic", Hub: 0, HostLinks: []string{"np1"}}}}
	nic := "net0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:00:00:01"
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"as known", "hub 0\r\n \\ np.net0.nic: " + nic + "\r\n", true},
		{"NIC gone", "hub 0\r\n \\ np.net0.nic\r\n", false},
		{"hub port gone", nic + "\r\n", false},
		{"other MAC", "hub 0\r\n \\ np.net0.nic: net0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:00:00:02\r\n", false},
		{"other peer", "hub 0\r\n \\ np.net0.nic: net1: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:00:00:01\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ni, err := backend.ParseInfoNetwork(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			st, ok := quickView(ni, known)
			if ok != tc.ok {
				t.Fatalf("want ok %v, got %v", tc.ok, ok)
			}
			if ok && (len(st.NICs) != 1 || st.NICs[0].HostLinks[0] != "np1" || !st.Running || st.NICs[0].Hub != 0) {
				t.Errorf("state not rebuilt from what is known: %+v", st)
			}
		})
	}
	if err := checkBasis("garbage line", known); err == nil || errors.Is(err, ErrStalePlan) {
		t.Errorf("check of an unparsable info network = %v, want a read-back error", err)
	}
}
