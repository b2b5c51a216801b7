package netif

import (
	"net"
	"strings"
)

// Name prefixes of the devices nicplug names itself. Generated names are the
// prefix plus 8 hex digits (13 bytes, within the kernel's 15).
const (
	MacvtapPrefix = "npmvt"
	TapPrefix     = "nptap"
)

// maxNameLen is IFNAMSIZ minus the terminating NUL.
const maxNameLen = 15

// Link kinds reported in [Link.Kind].
const (
	KindMacvtap = "macvtap"
	KindTap     = "tap"
)

// MacvtapConfig describes a macvtap to create.
type MacvtapConfig struct {
	// Parent is the name of the lower device, in the namespace Netns.
	// Required.
	Parent string
	// Mode is the forwarding mode; the zero value is VEPA.
	Mode MacvtapMode
	// MAC is the guest NIC's MAC address. Required: bridge and VEPA modes
	// deliver only frames addressed to the macvtap's own MAC.
	MAC net.HardwareAddr
	// Owner identifies the guest NIC; stored as the device's owner tag.
	// Required.
	Owner Owner
	// Netns is the path of the network namespace (e.g. /run/netns/x, or
	// /proc/self/fd/N for a namespace file descriptor N). "" means the
	// caller's.
	Netns string
	// Name is the device name. "" generates MacvtapPrefix plus a random
	// suffix, retried on collision; a given name is used as is and an
	// existing device of that name is an error matching os.ErrExist.
	Name string
}

// BridgeTapConfig describes a tap to create and enslave to a bridge.
type BridgeTapConfig struct {
	// Bridge is the name of the bridge in the namespace Netns. Required.
	Bridge string
	// MAC is the guest NIC's MAC. The tap gets it with the first byte set
	// to 0xfe (libvirt's rule: the bridge then never takes the tap's MAC as
	// its own). nil gives the tap a random fe:… MAC.
	MAC net.HardwareAddr
	// Owner identifies the guest NIC; stored as the device's owner tag.
	// Required.
	Owner Owner
	// Netns is the network namespace path; "" means the caller's.
	Netns string
	// Name is the tap's name; "" generates TapPrefix plus a random suffix.
	Name string
	// VLAN, when not 0, makes the tap an access port of that VLAN (1..4094)
	// on the bridge, which must filter VLANs ([SetAccessVLAN]).
	VLAN int
}

// OpenOptions says how to open a device's queues. A nil *OpenOptions means
// one queue without vnet_hdr.
type OpenOptions struct {
	// Queues is the number of queues, one file per queue; 0 means 1.
	// More than one sets IFF_MULTI_QUEUE.
	Queues int
	// VnetHdr sets IFF_VNET_HDR: every frame read or written carries a
	// virtio_net_hdr prefix (what QEMU wants for offloads). False clears it.
	VnetHdr bool
}

// maxQueues is the kernel's limit for macvtap (MAX_TAP_QUEUES) and tun.
const maxQueues = 256

func (o *OpenOptions) queues() (int, error) {
	if o == nil || o.Queues == 0 {
		return 1, nil
	}
	if o.Queues < 0 || o.Queues > maxQueues {
		return 0, invalidf("queues %d out of range 1..%d", o.Queues, maxQueues)
	}
	return o.Queues, nil
}

func (o *OpenOptions) vnetHdr() bool { return o != nil && o.VnetHdr }

// validateName checks a device name the kernel would accept.
func validateName(what, name string) error {
	switch {
	case name == "":
		return invalidf("%s name is empty", what)
	case len(name) > maxNameLen:
		return invalidf("%s name %q is %d bytes, longer than %d", what, name, len(name), maxNameLen)
	case name == "." || name == "..":
		return invalidf("%s name %q is not allowed", what, name)
	case strings.ContainsAny(name, "/: \t\n\x00"):
		return invalidf("%s name %q contains '/', ':', a space or a control character", what, name)
	}
	return nil
}

// validateMAC checks a guest MAC: 6 bytes, unicast, not all zero.
func validateMAC(mac net.HardwareAddr) error {
	switch {
	case mac == nil:
		return invalidf("MAC is missing")
	case len(mac) != 6:
		return invalidf("MAC %s is %d bytes, not 6", mac, len(mac))
	case mac[0]&1 != 0:
		return invalidf("MAC %s is a multicast address", mac)
	case string(mac) == "\x00\x00\x00\x00\x00\x00":
		return invalidf("MAC %s is all zero", mac)
	}
	return nil
}

func (c *MacvtapConfig) validate() error {
	if c == nil {
		return invalidf("nil config")
	}
	return validateLower("macvtap", c.Parent, c.Name, c.Mode, c.MAC, c.Owner)
}

// validateLower checks the config of a macvtap or macvlan (kind) on
// parent.
func validateLower(kind, parent, name string, mode MacvtapMode, mac net.HardwareAddr, owner Owner) error {
	if parent == "" {
		return invalidf("parent is missing")
	}
	if err := validateName("parent", parent); err != nil {
		return err
	}
	if name != "" {
		if err := validateName(kind, name); err != nil {
			return err
		}
	}
	if err := mode.validate(); err != nil {
		return err
	}
	if err := validateMAC(mac); err != nil {
		return err
	}
	return validateOwner(owner)
}

func (c *BridgeTapConfig) validate() error {
	if c == nil {
		return invalidf("nil config")
	}
	if c.Bridge == "" {
		return invalidf("bridge is missing")
	}
	if err := validateName("bridge", c.Bridge); err != nil {
		return err
	}
	if c.Name != "" {
		if err := validateName("tap", c.Name); err != nil {
			return err
		}
	}
	if c.MAC != nil {
		if err := validateMAC(c.MAC); err != nil {
			return err
		}
	}
	if err := validateVLAN(c.VLAN); err != nil {
		return err
	}
	return validateOwner(c.Owner)
}

// TapMAC returns the MAC libvirt gives the host side of a bridged tap for a
// guest MAC: the same address with the first byte set to 0xfe.
func TapMAC(guest net.HardwareAddr) net.HardwareAddr {
	mac := make(net.HardwareAddr, len(guest))
	copy(mac, guest)
	if len(mac) > 0 {
		mac[0] = 0xfe
	}
	return mac
}
