package backend

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/nicplug/nicplug/domain"
)

// Prefix starts every QEMU id nicplug derives.
const Prefix = "np."

// Role says what a nicplug-derived QEMU id names.
type Role int

// Roles of the ids parsed by [ParseNetdevID].
const (
	// RoleNICPort is the NIC-side hub port "np.<dev>.nic".
	RoleNICPort Role = iota + 1
	// RoleBackend is a backend netdev "np.<dev>.b<gen>.h<hash>".
	RoleBackend
	// RoleBackendPort is the backend-side hub port "np.<dev>.p<gen>"
	// (an older nicplug named it "<backend>.hp", still recognized).
	RoleBackendPort
	// RoleFD is a getfd name "<backend>.fd<q>".
	RoleFD
	// RoleTap is a tap-datapath NIC's fixed tap "np.<dev>.tap".
	RoleTap
)

// String returns "nic-port", "backend", "backend-port" or "fd".
func (r Role) String() string {
	switch r {
	case RoleNICPort:
		return "nic-port"
	case RoleBackend:
		return "backend"
	case RoleBackendPort:
		return "backend-port"
	case RoleFD:
		return "fd"
	case RoleTap:
		return "tap"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// NetdevID is a parsed nicplug id. Gen, Hash and Queue are meaningful only
// for the roles that carry them.
type NetdevID struct {
	// Device is the NIC's QEMU device id.
	Device string
	// Role is what the id names.
	Role Role
	// Gen is the backend generation (RoleBackend, RoleBackendPort, RoleFD).
	Gen int
	// Hash is the backend's [SpecHash] (RoleBackend, RoleBackendPort, RoleFD).
	Hash string
	// Queue is the queue index of a getfd name (RoleFD).
	Queue int
}

// BackendID returns the id of generation gen of backend b behind device.
func BackendID(device string, gen int, b domain.Backend) NetdevID {
	return NetdevID{Device: device, Role: RoleBackend, Gen: gen, Hash: SpecHash(b)}
}

// String formats the id as QEMU sees it.
func (id NetdevID) String() string {
	switch id.Role {
	case RoleNICPort:
		return domain.HubPortIDFor(id.Device)
	case RoleBackend:
		return fmt.Sprintf("%s%s.b%d.h%s", Prefix, id.Device, id.Gen, id.Hash)
	case RoleBackendPort:
		if id.Hash != "" {
			return id.Backend().String() + ".hp" // as an older nicplug named it
		}
		return fmt.Sprintf("%s%s.p%d", Prefix, id.Device, id.Gen)
	case RoleFD:
		return fmt.Sprintf("%s.fd%d", id.Backend(), id.Queue)
	case RoleTap:
		return domain.TapNetdevIDFor(id.Device)
	}
	return ""
}

// Backend returns the backend netdev id that a backend port or fd name
// belongs to (id itself for a backend).
func (id NetdevID) Backend() NetdevID {
	return NetdevID{Device: id.Device, Role: RoleBackend, Gen: id.Gen, Hash: id.Hash}
}

// Port returns the backend-side hub port of a backend id. It carries no
// hash: a port is short, since QEMU reads every byte of every command that
// names it, and what it joins to the hub is its peer, whose id has the
// hash.
func (id NetdevID) Port() NetdevID {
	return NetdevID{Device: id.Device, Role: RoleBackendPort, Gen: id.Gen}
}

// FD returns the getfd name of queue q of a backend id.
func (id NetdevID) FD(q int) NetdevID {
	b := id.Backend()
	b.Role, b.Queue = RoleFD, q
	return b
}

// ParseNetdevID parses an id nicplug derives. It fails for any other name,
// including ids of objects nicplug did not create.
func ParseNetdevID(s string) (NetdevID, error) {
	bad := func(why string) (NetdevID, error) {
		return NetdevID{}, fmt.Errorf("backend: %q is not a nicplug id: %s", s, why)
	}
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return bad("no " + Prefix + " prefix")
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 2 || parts[0] == "" {
		return bad("no device id")
	}
	id := NetdevID{Device: parts[0]}
	if len(parts) == 2 && parts[1] == "nic" {
		id.Role = RoleNICPort
		return id, nil
	}
	if len(parts) == 2 && parts[1] == "tap" {
		id.Role = RoleTap
		return id, nil
	}
	if len(parts) == 2 {
		g, ok := strings.CutPrefix(parts[1], "p")
		gen, err := strconv.Atoi(g)
		if !ok || err != nil || gen < 1 || strconv.Itoa(gen) != g {
			return bad("bad hub port " + strconv.Quote(parts[1]))
		}
		id.Role, id.Gen = RoleBackendPort, gen
		return id, nil
	}
	if len(parts) < 3 || len(parts) > 4 {
		return bad("wrong number of parts")
	}
	g, ok := strings.CutPrefix(parts[1], "b")
	gen, err := strconv.Atoi(g)
	if !ok || err != nil || gen < 1 || strconv.Itoa(gen) != g {
		return bad("bad generation " + strconv.Quote(parts[1]))
	}
	h, ok := strings.CutPrefix(parts[2], "h")
	if !ok || len(h) != hashLen || !isLowerHex(h) {
		return bad("bad spec hash " + strconv.Quote(parts[2]))
	}
	id.Gen, id.Hash, id.Role = gen, h, RoleBackend
	if len(parts) == 3 {
		return id, nil
	}
	switch last := parts[3]; {
	case last == "hp":
		id.Role = RoleBackendPort
	case strings.HasPrefix(last, "fd"):
		q, err := strconv.Atoi(last[2:])
		if err != nil || q < 0 || strconv.Itoa(q) != last[2:] {
			return bad("bad queue " + strconv.Quote(last))
		}
		id.Role, id.Queue = RoleFD, q
	default:
		return bad("unknown suffix " + strconv.Quote(last))
	}
	return id, nil
}

const hashLen = 8

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Canonical is the canonical text of a backend spec that [SpecHash] hashes:
// every field, in a fixed order, so equal backends have equal text.
func Canonical(b domain.Backend) string {
	t := b.Type
	if t == "" {
		t = domain.TypeNone
	}
	s := fmt.Sprintf("type=%s dev=%s mode=%s bridge=%s addr=%s port=%d laddr=%s lport=%d",
		t, b.Dev, b.Mode, b.Bridge, b.Address, b.Port, b.LocalAddress, b.LocalPort)
	if b.VLAN != 0 {
		// Only when set, so that the hashes of backends without a VLAN
		// (and so the ids of running backends) stay what they were.
		s += fmt.Sprintf(" vlan=%d", b.VLAN)
	}
	return s
}

// SpecHash is a short (8 hex digits) hash of the backend's [Canonical]
// spec. It is embedded in backend ids so that read-back can tell which
// backend is attached.
func SpecHash(b domain.Backend) string {
	sum := sha256.Sum256([]byte(Canonical(b)))
	return hex.EncodeToString(sum[:])[:hashLen]
}

// TapName is the name of the fixed tap of device's NIC in VM vm, on the tap
// datapath: [LinkName] of generation 0, which no backend has.
func TapName(vm, device string) string { return LinkName(vm, device, 0) }

// LinkName is the name of the host link (macvtap or bridge tap) nicplug
// creates for generation gen of device's backend in VM vm: "np" and ten hex
// digits of a hash of the three, so it fits IFNAMSIZ and is found again.
func LinkName(vm, device string, gen int) string {
	sum := sha256.Sum256([]byte(vm + "\x00" + device + "\x00" + strconv.Itoa(gen)))
	return "np" + hex.EncodeToString(sum[:])[:10]
}
