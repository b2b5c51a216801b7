package domain

// Offloads of a hub-peered virtio-net NIC.
//
// A virtio-net NIC offers the guest checksum and segmentation offloads only
// when its peer takes vnet_hdr, and a hub port does not: QEMU clears those
// feature bits silently at realize. nicplug does not rely on that. It turns
// them off explicitly in the -device it generates, so the guest sees the
// same feature bits as before, and a QEMU that refuses a NIC whose peer
// lacks vnet_hdr unless its offloads are off (an upstream RFC, "virtio-net:
// introduce strict peer feature check") accepts the NIC.

// offloadsJSON holds the virtio-net offload properties nicplug sets to false
// (nil: left out). Field order is output order.
type offloadsJSON struct {
	CSum      *bool `json:"csum,omitempty"`
	GuestCSum *bool `json:"guest_csum,omitempty"`
	GuestTSO4 *bool `json:"guest_tso4,omitempty"`
	GuestTSO6 *bool `json:"guest_tso6,omitempty"`
	GuestECN  *bool `json:"guest_ecn,omitempty"`
	GuestUFO  *bool `json:"guest_ufo,omitempty"`
	HostTSO4  *bool `json:"host_tso4,omitempty"`
	HostTSO6  *bool `json:"host_tso6,omitempty"`
	HostECN   *bool `json:"host_ecn,omitempty"`
	HostUFO   *bool `json:"host_ufo,omitempty"`
	// USO properties exist since QEMU 8.1.
	GuestUSO4 *bool `json:"guest_uso4,omitempty"`
	GuestUSO6 *bool `json:"guest_uso6,omitempty"`
	HostUSO   *bool `json:"host_uso,omitempty"`
}

// hubOffloads returns the offload properties a virtio-net NIC behind a hub
// port gets on QEMU v (zero: the oldest supported, 7.2): every one QEMU
// would clear for a peer without vnet_hdr, off. The USO ones are left out
// before 8.1, which has no such properties and refuses unknown ones.
func hubOffloads(v QEMUVersion) offloadsJSON {
	off := new(bool)
	o := offloadsJSON{CSum: off, GuestCSum: off, GuestTSO4: off, GuestTSO6: off, GuestECN: off,
		GuestUFO: off, HostTSO4: off, HostTSO6: off, HostECN: off, HostUFO: off}
	if v.AtLeast(8, 1) {
		o.GuestUSO4, o.GuestUSO6, o.HostUSO = off, off, off
	}
	return o
}
