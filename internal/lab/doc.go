// Package lab sets up what nicplug's end-to-end tests and its demo need
// around a real guest (booted with package internal/guest). It is test
// support, not part of nicplug's API.
//
// # Networks
//
// NewNetwork makes a throw-away LAN for macvtaps: two fresh network
// namespaces, a veth pair between them, the macvtap parent (veth0) in one,
// and in the other the peer (veth1) with the router address and busybox
// udhcpd serving leases whose router option is that address, and radvd
// advertising the LAN's own IPv6 prefix (Network.Prefix6, a ULA /64 derived
// from the subnet; SLAAC, every 3–4 s and on solicitation) with the router
// at Network.Router6. The host side accepts no RAs: it is only a switch. Pass
// Network.Netns as nicplug's Config.Netns and Network.Parent as the
// <source dev=…> of a type='direct' interface. Close removes everything.
//
// With NetworkConfig.Bridge the LAN is reached through a bridge instead: the
// host-side veth end is a port of a bridge of that name, for a
// <source bridge=…/> interface. With NetworkConfig.Netns several LANs share
// one host-side namespace (each with its own LAN namespace, DHCP server and
// subnet), so that one NIC can be moved between them: give each a distinct
// Parent, Bridge and Subnet. With NetworkConfig.VLAN the bridge filters
// VLANs and the LAN's veth end is an access port of that VLAN on it;
// LANs of different VLANs share one bridge (the first creates it, the
// others join it), so that a NIC moves between them by a change of its
// own port's VLAN. A kernel without bridge VLAN filtering gives
// ErrNoVLANFiltering.
//
// # Waiting for the guest
//
// WaitConnected and WaitDisconnected wait for the sequence of guest events a
// plug, switch or unplug must cause, and return them with their host
// timestamps so callers can measure latencies.
package lab
