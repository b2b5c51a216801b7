package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nicplug/nicplug/domain"
)

// HostNeed is what a backend kind needs from the host before QEMU can use it.
type HostNeed int

// Host needs of the backend kinds.
const (
	// NeedNothing: the backend lives inside QEMU (user, sockets).
	NeedNothing HostNeed = iota
	// NeedMacvtap: nicplug creates a macvtap on Backend.Dev and opens it.
	NeedMacvtap
	// NeedTap: nicplug opens the existing tap Backend.Dev (never deletes it).
	NeedTap
	// NeedBridgeTap: nicplug creates a tap enslaved to Backend.Bridge and
	// opens it.
	NeedBridgeTap
)

// String returns "nothing", "macvtap", "tap" or "bridge-tap".
func (n HostNeed) String() string {
	switch n {
	case NeedNothing:
		return "nothing"
	case NeedMacvtap:
		return "macvtap"
	case NeedTap:
		return "tap"
	case NeedBridgeTap:
		return "bridge-tap"
	}
	return "HostNeed(" + strconv.Itoa(int(n)) + ")"
}

// Creates reports whether nicplug creates (and later deletes) a host link.
func (n HostNeed) Creates() bool { return n == NeedMacvtap || n == NeedBridgeTap }

// PassesFD reports whether QEMU gets the backend as a tap file descriptor.
func (n HostNeed) PassesFD() bool { return n != NeedNothing }

// ErrNoBackend is returned for a backend of type none, which has nothing to
// create.
var ErrNoBackend = errors.New("backend: type none has no backend to create")

// Macvtap modes accepted for direct backends ("" means vepa, libvirt's
// default).
var macvtapModes = map[string]bool{"": true, "bridge": true, "vepa": true, "private": true, "passthrough": true}

// Needs returns what b needs from the host, after validating it.
func Needs(b domain.Backend) (HostNeed, error) {
	if err := Validate(b); err != nil {
		return 0, err
	}
	switch b.Type {
	case domain.TypeDirect:
		return NeedMacvtap, nil
	case domain.TypeEthernet:
		return NeedTap, nil
	case domain.TypeBridge:
		return NeedBridgeTap, nil
	}
	return NeedNothing, nil
}

// MacvtapMode is the macvtap mode to create for a direct backend (its Mode,
// or "vepa" when empty).
func MacvtapMode(b domain.Backend) string {
	if b.Mode == "" {
		return "vepa"
	}
	return b.Mode
}

// Validate checks that b is a complete backend of a known, attachable kind.
// The error names the field that is wrong.
func Validate(b domain.Backend) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("backend: %s: %s", b.Type, fmt.Sprintf(format, args...))
	}
	switch b.Type {
	case domain.TypeNone, "":
		return ErrNoBackend
	case domain.TypeUser:
		return nil
	case domain.TypeDirect:
		if err := checkIfname(b.Dev); err != nil {
			return bad("source dev: %v", err)
		}
		if !macvtapModes[b.Mode] {
			return bad("unknown macvtap mode %q (want bridge, vepa, private or passthrough)", b.Mode)
		}
		return nil
	case domain.TypeEthernet:
		if err := checkIfname(b.Dev); err != nil {
			return bad("target dev: %v", err)
		}
		return nil
	case domain.TypeBridge:
		if err := checkIfname(b.Bridge); err != nil {
			return bad("source bridge: %v", err)
		}
		return nil
	case domain.TypeServer:
		if b.Address != "" && net.ParseIP(b.Address) == nil {
			return bad("listen address %q is not an IP address", b.Address)
		}
		return checkPort(bad, "port", b.Port)
	case domain.TypeClient, domain.TypeMcast, domain.TypeUDP:
		ip := net.ParseIP(b.Address)
		if ip == nil {
			return bad("address %q is not an IP address", b.Address)
		}
		if b.Type == domain.TypeMcast && !ip.IsMulticast() {
			return bad("address %s is not a multicast address", b.Address)
		}
		if err := checkPort(bad, "port", b.Port); err != nil {
			return err
		}
		if b.Type == domain.TypeMcast && b.LocalAddress != "" && net.ParseIP(b.LocalAddress) == nil {
			return bad("local address %q is not an IP address", b.LocalAddress)
		}
		if b.Type != domain.TypeUDP {
			return nil
		}
		if net.ParseIP(b.LocalAddress) == nil {
			return bad("local address %q is not an IP address", b.LocalAddress)
		}
		return checkPort(bad, "local port", b.LocalPort)
	}
	return fmt.Errorf("backend: unknown backend type %q", b.Type)
}

func checkPort(bad func(string, ...any) error, what string, p int) error {
	if p < 1 || p > 65535 {
		return bad("%s %d out of range 1-65535", what, p)
	}
	return nil
}

// checkIfname accepts what the kernel accepts as an interface name.
func checkIfname(s string) error {
	switch {
	case s == "":
		return errors.New("empty interface name")
	case len(s) > 15:
		return fmt.Errorf("interface name %q longer than 15 bytes", s)
	case s == "." || s == "..":
		return fmt.Errorf("invalid interface name %q", s)
	case strings.ContainsAny(s, "/: \t\n\x00"):
		return fmt.Errorf("interface name %q contains '/', ':' or whitespace", s)
	}
	return nil
}

// Driver returns QEMU's net client type for backend b, as netdev_add's
// "type" and `info network`'s "type=" show it: "tap" for the backends QEMU
// gets as a tap fd (direct, ethernet, bridge), "user", or "socket" (server,
// client, mcast, udp). It fails as [Validate] does.
func Driver(b domain.Backend) (string, error) {
	need, err := Needs(b)
	switch {
	case err != nil:
		return "", err
	case need.PassesFD():
		return "tap", nil
	case b.Type == domain.TypeUser:
		return "user", nil
	}
	return "socket", nil
}

// NetdevArgs returns the netdev_add arguments that create backend b with
// QEMU id id. fdNames are the getfd names of its tap fds, required (one)
// exactly when [Needs] says [HostNeed.PassesFD]. Keys come in a fixed order
// with "type" and "id" first.
//
//	tap:     {"type":"tap","id":ID,"fd":FDNAME}
//	user:    {"type":"user","id":ID}
//	server:  {"type":"socket","id":ID,"listen":"ADDR:PORT"}
//	client:  {"type":"socket","id":ID,"connect":"ADDR:PORT"}
//	mcast:   {"type":"socket","id":ID,"mcast":"ADDR:PORT"[,"localaddr":"LADDR"]}
//	udp:     {"type":"socket","id":ID,"udp":"ADDR:PORT","localaddr":"ADDR:PORT"}
func NetdevArgs(id string, b domain.Backend, fdNames ...string) (json.RawMessage, error) {
	typ, err := Driver(b)
	if err != nil {
		return nil, err
	}
	if passesFD := typ == "tap"; passesFD != (len(fdNames) == 1) {
		return nil, fmt.Errorf("backend: %s needs %d fd names, got %d", b.Type, map[bool]int{true: 1}[passesFD], len(fdNames))
	}
	hp := func(a string, p int) string { return net.JoinHostPort(a, strconv.Itoa(p)) }
	switch b.Type {
	case domain.TypeDirect, domain.TypeEthernet, domain.TypeBridge:
		return Object("type", typ, "id", id, "fd", fdNames[0]), nil
	case domain.TypeUser:
		return Object("type", typ, "id", id), nil
	case domain.TypeServer:
		return Object("type", typ, "id", id, "listen", hp(b.Address, b.Port)), nil
	case domain.TypeClient:
		return Object("type", typ, "id", id, "connect", hp(b.Address, b.Port)), nil
	case domain.TypeMcast:
		if b.LocalAddress != "" {
			return Object("type", typ, "id", id, "mcast", hp(b.Address, b.Port), "localaddr", b.LocalAddress), nil
		}
		return Object("type", typ, "id", id, "mcast", hp(b.Address, b.Port)), nil
	case domain.TypeUDP:
		return Object("type", typ, "id", id, "udp", hp(b.Address, b.Port), "localaddr", hp(b.LocalAddress, b.LocalPort)), nil
	}
	return nil, fmt.Errorf("backend: unknown backend type %q", b.Type)
}

// HubPortArgs returns the netdev_add arguments of a hub port with id id on
// hub hubID, joined to netdev peer ("" for none).
func HubPortArgs(id string, hubID int, peer string) json.RawMessage {
	if peer == "" {
		return Object("type", "hubport", "id", id, "hubid", hubID)
	}
	return Object("type", "hubport", "id", id, "hubid", hubID, "netdev", peer)
}

// Object encodes alternating keys and values as a JSON object whose keys keep
// the given order (QMP does not care; people reading plans do). Values must
// be JSON-encodable; Object panics on a programming error.
func Object(kv ...any) json.RawMessage {
	if len(kv)%2 != 0 {
		panic("backend: Object needs key/value pairs")
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(kv[i].(string))
		v, err := json.Marshal(kv[i+1])
		if err != nil {
			panic("backend: Object: " + err.Error())
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}
