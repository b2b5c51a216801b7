package domain

import (
	"errors"
	"fmt"
	"net"

	"libvirt.org/go/libvirtxml"
)

// Macvtap modes accepted for type direct (libvirt's names).
var directModes = map[string]bool{"bridge": true, "vepa": true, "private": true, "passthrough": true}

// defaultDirectMode is libvirt's default macvtap mode.
const defaultDirectMode = "vepa"

// parseBackend normalizes the backend of an <interface> of type typ.
func parseBackend(typ string, x *libvirtxml.DomainInterface, opts *ParseOptions) (Backend, error) {
	src := x.Source
	if src == nil {
		src = &libvirtxml.DomainInterfaceSource{}
	}
	var b Backend
	switch typ {
	case "none", "null":
		return Backend{Type: TypeNone}, nil
	case "user":
		if src.User != nil && src.User.Dev != "" {
			return b, errors.New("type user with <source dev=…> (passt) is not supported")
		}
		b = Backend{Type: TypeUser}
	case "direct":
		s := src.Direct
		if s == nil {
			return b, errors.New("type direct needs <source dev=… mode=…/>")
		}
		b = Backend{Type: TypeDirect, Dev: s.Dev, Mode: s.Mode}
		if b.Mode == "" {
			b.Mode = defaultDirectMode
		}
	case "ethernet":
		if x.Target == nil {
			return b, errors.New("type ethernet needs <target dev=… managed='no'/> naming an existing tap")
		}
		b = Backend{Type: TypeEthernet, Dev: x.Target.Dev}
	case "bridge":
		if src.Bridge == nil {
			return b, errors.New("type bridge needs <source bridge=…/>")
		}
		b = Backend{Type: TypeBridge, Bridge: src.Bridge.Bridge}
	case "server", "client", "mcast":
		var addr string
		var port uint
		var local *libvirtxml.DomainInterfaceSourceLocal
		switch {
		case src.Server != nil:
			addr, port, local = src.Server.Address, src.Server.Port, src.Server.Local
		case src.Client != nil:
			addr, port, local = src.Client.Address, src.Client.Port, src.Client.Local
		case src.MCast != nil:
			addr, port, local = src.MCast.Address, src.MCast.Port, src.MCast.Local
		default:
			return b, fmt.Errorf("type %s needs <source address=… port=…/>", typ)
		}
		b = Backend{Type: BackendType(typ), Address: addr, Port: int(port)}
		if local != nil {
			if typ != "mcast" || local.Port != 0 {
				return b, fmt.Errorf("type %s: <local> is not supported (mcast takes <local address=…/> only)", typ)
			}
			b.LocalAddress = local.Address
		}
	case "udp":
		s := src.UDP
		if s == nil || s.Local == nil {
			return b, errors.New("type udp needs <source address=… port=…><local address=… port=…/></source>")
		}
		b = Backend{Type: TypeUDP, Address: s.Address, Port: int(s.Port), LocalAddress: s.Local.Address, LocalPort: int(s.Local.Port)}
	case "network":
		s := src.Network
		if s == nil || s.Network == "" {
			return b, errors.New("type network needs <source network=…/>")
		}
		if opts == nil || opts.Resolver == nil {
			return b, &unknownNetworkError{name: s.Network}
		}
		r, err := opts.Resolver(s.Network, s.PortGroup)
		if err != nil {
			return b, fmt.Errorf("resolve network '%s': %w", clip(s.Network), err)
		}
		if err := r.Validate(); err != nil {
			return b, fmt.Errorf("resolve network '%s': %w", clip(s.Network), err)
		}
		return r, nil
	default:
		return b, fmt.Errorf("type '%s' is not supported", typ)
	}
	return b, b.Validate()
}

// Validate checks that b is complete and that every name and address in
// it is safe to hand to QEMU and to the host (no option syntax, no paths).
func (b Backend) Validate() error {
	if b.VLAN != 0 && b.Type != TypeBridge {
		return fmt.Errorf("<vlan> on type %s is not supported: only a bridge port can be a VLAN access port", b.Type)
	}
	switch b.Type {
	case TypeNone, TypeUser:
		if b != (Backend{Type: b.Type}) {
			return fmt.Errorf("backend %s takes no parameters", b.Type)
		}
		return nil
	case TypeDirect:
		if err := checkIfname("direct source dev", b.Dev); err != nil {
			return err
		}
		if !directModes[b.Mode] {
			return fmt.Errorf("direct mode '%s' is invalid: want bridge, vepa, private or passthrough", clip(b.Mode))
		}
		return nil
	case TypeEthernet:
		return checkIfname("ethernet target dev", b.Dev)
	case TypeBridge:
		if b.VLAN < 0 || b.VLAN > maxVLAN {
			return fmt.Errorf("vlan tag id %d is out of range 1-%d", b.VLAN, maxVLAN)
		}
		return checkIfname("bridge name", b.Bridge)
	case TypeServer, TypeClient, TypeMcast, TypeUDP:
		what := string(b.Type)
		if err := checkHost(what+" address", b.Address); err != nil {
			return err
		}
		if err := checkPort(what+" port", uint(b.Port)); err != nil {
			return err
		}
		switch b.Type {
		case TypeMcast:
			if ip := net.ParseIP(b.Address); ip == nil || !ip.IsMulticast() {
				return fmt.Errorf("mcast address %q is not a multicast IP address", cut(b.Address, maxQuoted))
			}
			if b.LocalAddress != "" {
				ip := net.ParseIP(b.LocalAddress)
				if ip == nil || ip.To4() == nil {
					return fmt.Errorf("mcast local address %q is not an IPv4 address", cut(b.LocalAddress, maxQuoted))
				}
				if err := checkNotMapped("mcast local address", b.LocalAddress, ip); err != nil {
					return err
				}
			}
			if b.LocalPort != 0 {
				return errors.New("mcast takes no local port")
			}
		case TypeUDP:
			if err := checkHost("udp local address", b.LocalAddress); err != nil {
				return err
			}
			if err := checkPort("udp local port", uint(b.LocalPort)); err != nil {
				return err
			}
		default:
			if b.LocalAddress != "" || b.LocalPort != 0 {
				return fmt.Errorf("%s takes no local endpoint", b.Type)
			}
		}
		return nil
	case "":
		return errors.New("backend type is empty")
	}
	return fmt.Errorf("backend type '%s' is unknown", clip(string(b.Type)))
}
