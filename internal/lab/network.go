package lab

import (
	"io"
	"net/netip"
)

// DefaultSubnet is the LAN a Network serves when NetworkConfig.Subnet is
// zero.
var DefaultSubnet = netip.MustParsePrefix("192.168.77.0/24")

// NetworkConfig configures NewNetwork. A nil *NetworkConfig means defaults.
type NetworkConfig struct {
	// Subnet is the LAN, an IPv4 /24: the router (the DHCP server) is its
	// first address, leases come from .100 to .199. Zero means
	// DefaultSubnet.
	Subnet netip.Prefix
	// Stderr receives udhcpd's log. Nil discards it (the last lines are
	// kept for errors).
	Stderr io.Writer
}

// Network is a throw-away LAN for macvtaps, see the package doc.
type Network struct {
	// Netns is the path of the namespace that holds Parent: nicplug's
	// Config.Netns.
	Netns string
	// Parent is the macvtap parent in Netns, one end of the veth pair.
	Parent string
	// LANNetns is the path of the namespace of the DHCP server's side.
	LANNetns string
	// Subnet is the LAN's prefix.
	Subnet netip.Prefix
	// Router is the DHCP server's address, the router option of its
	// leases; it answers pings.
	Router netip.Addr

	impl networkImpl
}
