package domain

import "fmt"

// Backend returns the NIC's normalized backend.
func (n *NIC) Backend() Backend { return n.backend }

// DeviceID is the NIC's stable QEMU device id: its alias name if it has one
// (validated at parse time), else "net<index>".
func (n *NIC) DeviceID() string {
	if n.XML != nil && n.XML.Alias != nil && n.XML.Alias.Name != "" {
		return n.XML.Alias.Name
	}
	return fmt.Sprintf("net%d", n.Index)
}

// HubID is the id of the NIC's own QEMU hub: its index in the domain.
func (n *NIC) HubID() int { return n.Index }

// HubPortID is the netdev id of the NIC-side hub port, the NIC's peer for its
// whole life: "np.<device id>.nic".
func (n *NIC) HubPortID() string { return HubPortIDFor(n.DeviceID()) }

// HubPortIDFor is [NIC.HubPortID] for a device id.
func HubPortIDFor(deviceID string) string { return "np." + deviceID + ".nic" }
