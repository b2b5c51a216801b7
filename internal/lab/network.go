package lab

import (
	"errors"
	"io"
	"net/netip"
)

// DefaultSubnet is the LAN a Network serves when NetworkConfig.Subnet is
// zero.
var DefaultSubnet = netip.MustParsePrefix("192.168.77.0/24")

// DefaultPrefix begins the names of the namespaces a Network creates when
// NetworkConfig.Prefix is empty.
const DefaultPrefix = "nplab-"

// NetworkConfig configures NewNetwork. A nil *NetworkConfig means defaults.
type NetworkConfig struct {
	// Subnet is the LAN, an IPv4 /24: the router (the DHCP server) is its
	// first address, leases come from .100 to .199. Zero means
	// DefaultSubnet. Networks that share a Netns need distinct subnets
	// (so that a guest's lease tells which one it is on).
	Subnet netip.Prefix
	// Stderr receives udhcpd's log. Nil discards it (the last lines are
	// kept for errors).
	Stderr io.Writer
	// Netns, when set, is an existing network namespace (a path under
	// /run/netns, say another Network's Netns) for the host side instead
	// of a fresh one: several LANs then share the namespace where
	// nicplug's links and taps live. Close deletes only the links this
	// Network added there, never the namespace.
	Netns string
	// Parent names the host-side end of the veth pair. Empty means
	// "veth0". Networks that share a Netns need distinct names.
	Parent string
	// Bridge, when set, is the name of a bridge created in Netns (up, no
	// STP, so ports forward at once) with Parent enslaved: the LAN is
	// then reached through the bridge, for a <source bridge=…/> backend,
	// and Parent is no macvtap parent.
	Bridge string
	// Prefix begins the names of the namespaces created (and of the
	// temporary directory). Empty means DefaultPrefix.
	Prefix string
	// VLAN, when set (1–4094), makes Parent an access port of that VLAN
	// on Bridge (the port's only VLAN, its PVID, untagged), on a bridge
	// that filters VLANs: Bridge is created with vlan_filtering 1, or
	// joined when it is already in Netns (another Network's: LANs of
	// different VLANs then share one bridge, and Close leaves it to its
	// creator). A kernel whose bridges cannot filter VLANs fails
	// NewNetwork with an error matching ErrNoVLANFiltering. Needs Bridge.
	VLAN int
	// Prefix6 is the IPv6 /64 the LAN's radvd advertises (on-link,
	// autonomous: SLAAC; radvd's default lifetimes, valid 1 day and
	// preferred 4 hours); the router has its first address. Zero derives
	// a ULA from Subnet: 192.168.77.0/24 gives fd6e:706c:0:77::/64.
	Prefix6 netip.Prefix
}

// ErrNoVLANFiltering is matched by the error of NewNetwork for a VLAN
// LAN (NetworkConfig.VLAN) when the kernel's bridges cannot filter VLANs
// (no CONFIG_BRIDGE_VLAN_FILTERING).
var ErrNoVLANFiltering = errors.New("lab: the kernel's bridges cannot filter VLANs")

// Network is a throw-away LAN for macvtaps or a bridge, see the package
// doc.
type Network struct {
	// Netns is the path of the namespace that holds Parent (and Bridge):
	// nicplug's Config.Netns.
	Netns string
	// Parent is the host-side end of the veth pair in Netns: the macvtap
	// parent, or Bridge's port.
	Parent string
	// Bridge is the bridge in Netns the LAN is reached through, "" for a
	// macvtap-parent LAN.
	Bridge string
	// Peer is the LAN-side end of the veth pair, in LANNetns: it has the
	// router address.
	Peer string
	// LANNetns is the path of the namespace of the DHCP server's side.
	LANNetns string
	// Subnet is the LAN's prefix.
	Subnet netip.Prefix
	// VLAN is Parent's access VLAN on Bridge, 0 for none.
	VLAN int
	// Router is the DHCP server's address, the router option of its
	// leases; it answers pings.
	Router netip.Addr
	// Prefix6 is the IPv6 prefix radvd advertises on the LAN every 3–4 s
	// (and in answer to router solicitations).
	Prefix6 netip.Prefix
	// Router6 is the router's global IPv6 address in Prefix6 (the
	// prefix's first address); it answers pings.
	Router6 netip.Addr

	impl networkImpl
}
