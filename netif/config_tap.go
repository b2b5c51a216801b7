package netif

import (
	"fmt"
	"net"
	"strings"
)

// KindMacvlan is [Link.Kind] of a macvlan.
const KindMacvlan = "macvlan"

// MacvlanPrefix is the name prefix of the macvlans nicplug names itself.
const MacvlanPrefix = "npmvl"

// RedirectPriority is the tc priority (preference) of nicplug's redirect
// filters on an ingress qdisc. It is nicplug's: a filter found there that
// is not a nicplug redirect makes [AddRedirect] fail. It sorts after the
// priorities the kernel gives filters added without one (49152 and down),
// so a user's own ingress filters on an ethernet backend's interface run
// first.
const RedirectPriority = 50000

// maxVLAN is the highest usable 802.1Q VLAN id (4095 is reserved).
const maxVLAN = 4094

// FixedTapConfig describes the fixed tap of a NIC on the tap datapath: a
// persistent tap the NIC is peered with for life, plugged into nothing when
// created ([SetMaster], [AddRedirect] plug it later).
type FixedTapConfig struct {
	// Name is the tap's name. Required: QEMU may open it by name, so
	// the caller chooses it. An existing device of that name is an error
	// matching os.ErrExist.
	Name string
	// MAC is the guest NIC's MAC. The tap gets it with the first byte set
	// to 0xfe ([TapMAC]); nil gives the tap a random fe:… MAC.
	MAC net.HardwareAddr
	// Queues is the number of queues, 1..256; 0 means 1. More than one
	// makes the tap IFF_MULTI_QUEUE. The kernel refuses to attach a
	// single-queue file to a multi-queue tap and the other way round
	// (EINVAL), so QEMU opening the tap by name must ask for queues=Queues.
	Queues int
	// UID and GID, when ≥ 0, let that user or group attach to the tap
	// without CAP_NET_ADMIN (TUNSETOWNER, TUNSETGROUP), and nobody else
	// without it. Negative sets no owner: the kernel then lets anybody who
	// holds an open /dev/net/tun attach, so access rests on that device's
	// mode (0600 root on most systems) and on who gets a descriptor. 0 is
	// root as owner: only CAP_NET_ADMIN may attach, even with a descriptor.
	UID, GID int
	// Owner identifies the guest NIC; stored as the device's owner tag.
	// Required.
	Owner Owner
	// Netns is the network namespace path; "" means the caller's.
	Netns string
}

// MacvlanConfig describes a macvlan to create: the guest's MAC on the
// parent's L2, joined to a fixed tap by redirects ([AddRedirect]).
type MacvlanConfig struct {
	// Parent is the name of the lower device in Netns. Required.
	Parent string
	// Mode is the forwarding mode (macvlan and macvtap share them); the
	// zero value is VEPA.
	Mode MacvtapMode
	// MAC is the guest NIC's MAC address. Required: bridge and VEPA modes
	// deliver only frames addressed to the macvlan's own MAC.
	MAC net.HardwareAddr
	// Owner identifies the guest NIC; stored as the device's owner tag.
	// Required.
	Owner Owner
	// Netns is the network namespace path; "" means the caller's.
	Netns string
	// Name is the device name. "" generates MacvlanPrefix plus a random
	// suffix, retried on collision; an existing device of a given name is
	// an error matching os.ErrExist.
	Name string
}

// PortVLAN is one VLAN of a bridge port, as `bridge vlan show` lists it.
type PortVLAN struct {
	// VID is the VLAN id, 1..4094.
	VID int
	// PVID reports that untagged frames received on the port join VID.
	PVID bool
	// Untagged reports that frames of VID leave the port untagged.
	Untagged bool
}

// String is "VID[ PVID][ untagged]", e.g. "1 PVID untagged".
func (v PortVLAN) String() string {
	var b strings.Builder
	fmt.Fprint(&b, v.VID)
	if v.PVID {
		b.WriteString(" PVID")
	}
	if v.Untagged {
		b.WriteString(" untagged")
	}
	return b.String()
}

// TapPlug is what a tap is plugged into, as read back by [ReadTapPlug].
type TapPlug struct {
	// Master is the bridge the tap is enslaved to, "" if none.
	Master string
	// VLAN is the access VLAN: the tap's VLAN when it has exactly one,
	// which is its PVID and untagged, and is not the bridge's default
	// (DefaultPVID). 0 otherwise: no master, a bridge without VLAN
	// filtering, the bridge's default VLAN alone (what SetAccessVLAN 0
	// sets and a new port gets), or another VLAN set-up.
	VLAN int
	// DefaultPVID is the bridge's vlan_default_pvid when it filters
	// VLANs, else 0.
	DefaultPVID int
	// VLANs are the tap's VLANs on a VLAN-filtering bridge; nil if none.
	VLANs []PortVLAN
	// Redirect is the device nicplug's redirect on the tap's ingress
	// sends frames to ([AddRedirect]), "" if there is none.
	Redirect string
	// Back reports whether Redirect's ingress is redirected back to the
	// tap by nicplug's redirect.
	Back bool
}

func (c *FixedTapConfig) linkName() string {
	if c == nil {
		return ""
	}
	return c.Name
}

func (c *MacvlanConfig) linkName() string {
	if c == nil {
		return ""
	}
	return c.Name
}

func (c *FixedTapConfig) queues() int {
	if c.Queues == 0 {
		return 1
	}
	return c.Queues
}

func (c *FixedTapConfig) validate() error {
	if c == nil {
		return invalidf("nil config")
	}
	if err := validateName("tap", c.Name); err != nil {
		return err
	}
	if c.Queues < 0 || c.Queues > maxQueues {
		return invalidf("queues %d out of range 1..%d", c.Queues, maxQueues)
	}
	if c.MAC != nil {
		if err := validateMAC(c.MAC); err != nil {
			return err
		}
	}
	return validateOwner(c.Owner)
}

func (c *MacvlanConfig) validate() error {
	if c == nil {
		return invalidf("nil config")
	}
	return validateLower("macvlan", c.Parent, c.Name, c.Mode, c.MAC, c.Owner)
}

// validateVLAN checks an access VLAN: 0 (the bridge's default) or 1..4094.
func validateVLAN(vlan int) error {
	if vlan < 0 || vlan > maxVLAN {
		return invalidf("VLAN %d out of range 1..%d (0 for the bridge's default)", vlan, maxVLAN)
	}
	return nil
}
