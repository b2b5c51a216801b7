package domain

import (
	"fmt"

	"libvirt.org/go/libvirtxml"
)

// BackendType is the kind of host backend behind a NIC, normalized from the
// interface's type attribute.
type BackendType string

// Backend types accepted behind a runtime-switchable NIC.
const (
	TypeNone     BackendType = "none"     // no backend: cable unplugged ("none" or "null")
	TypeUser     BackendType = "user"     // QEMU's user-mode network (slirp)
	TypeDirect   BackendType = "direct"   // a host macvtap on Backend.Dev
	TypeEthernet BackendType = "ethernet" // an existing host tap named Backend.Dev
	TypeBridge   BackendType = "bridge"   // a tap nicplug creates and enslaves to Backend.Bridge
	TypeServer   BackendType = "server"   // stream socket, QEMU listens
	TypeClient   BackendType = "client"   // stream socket, QEMU connects
	TypeMcast    BackendType = "mcast"    // multicast socket
	TypeUDP      BackendType = "udp"      // unicast UDP socket
)

// Backend is what sits behind a NIC, independent of XML spelling. Two
// backends are the same network when they are == (Backend is comparable).
type Backend struct {
	// Type is the backend kind; the zero value is not valid, use TypeNone.
	Type BackendType
	// Dev is the macvtap parent (direct) or the existing tap (ethernet).
	Dev string
	// Mode is the macvtap mode for direct: bridge, vepa, private or passthrough.
	Mode string
	// Bridge is the host bridge a created tap joins (bridge).
	Bridge string
	// VLAN is the access VLAN of a bridge backend's port (<vlan><tag
	// id='N'/></vlan>): the port's only VLAN, PVID and untagged, on a
	// bridge with VLAN filtering. 0 means none: the bridge's default.
	VLAN int
	// Address and Port are the remote (client, mcast, udp) or listen
	// (server) endpoint of a socket backend.
	Address string
	Port    int
	// LocalAddress and LocalPort are the local endpoint of a udp backend.
	LocalAddress string
	LocalPort    int
}

// IsNone reports whether b means "no backend" (cable unplugged).
func (b Backend) IsNone() bool { return b.Type == TypeNone || b.Type == "" }

// String is a short human form such as "direct(eth0,bridge)" or "none".
func (b Backend) String() string {
	switch b.Type {
	case TypeDirect:
		return fmt.Sprintf("direct(%s,%s)", b.Dev, b.Mode)
	case TypeEthernet:
		return fmt.Sprintf("ethernet(%s)", b.Dev)
	case TypeBridge:
		if b.VLAN != 0 {
			return fmt.Sprintf("bridge(%s,vlan=%d)", b.Bridge, b.VLAN)
		}
		return fmt.Sprintf("bridge(%s)", b.Bridge)
	case TypeServer, TypeClient, TypeMcast:
		return fmt.Sprintf("%s(%s:%d)", b.Type, b.Address, b.Port)
	case TypeUDP:
		return fmt.Sprintf("udp(%s:%d<-%s:%d)", b.Address, b.Port, b.LocalAddress, b.LocalPort)
	case "":
		return string(TypeNone)
	}
	return string(b.Type)
}

// NetworkResolver maps a libvirt <source network='NAME' [portgroup='PG']/>
// to a concrete backend. Without one, type='network' is an error.
type NetworkResolver func(network, portgroup string) (Backend, error)

// ParseOptions tunes parsing. A nil *ParseOptions means defaults.
type ParseOptions struct {
	// Resolver resolves type='network'; nil makes type='network' an error.
	Resolver NetworkResolver
}

// NIC is one <interface> of a domain (or a standalone update), with the
// original element kept for lossless output.
type NIC struct {
	// XML is the parsed element. Its Source is nil for type none/null;
	// the type attribute is restored on output by [NIC.Marshal].
	XML *libvirtxml.DomainInterface
	// Index is the NIC's position among the domain's interfaces, or -1 for
	// a standalone <interface> not yet matched to a domain.
	Index int
	// Spelling is the type attribute as written ("none", "null", "user", …),
	// kept so output uses the caller's spelling.
	Spelling string

	backend Backend
}

// Domain is a parsed <domain> document.
type Domain struct {
	// XML is the parsed document; its interfaces are also in NICs.
	XML *libvirtxml.Domain
	// NICs are the domain's interfaces in document order (NICs[i].Index == i).
	NICs []*NIC
}

// ChangeSet is what an update changes on a NIC that can change live. The
// zero value means "nothing to do".
type ChangeSet struct {
	// Link is the new administrative link state, nil when unchanged.
	Link *bool
	// Backend is the new backend, nil when unchanged. A Backend with
	// IsNone() true means "unplug".
	Backend *Backend
}

// Empty reports whether c changes nothing.
func (c ChangeSet) Empty() bool { return c.Link == nil && c.Backend == nil }

// LinkState is the link state a NIC must have before the guest runs.
type LinkState struct {
	// DeviceID is the QEMU device id (the set_link name).
	DeviceID string
	// Up is false for unplugged NICs and for <link state='down'/>.
	Up bool
}
