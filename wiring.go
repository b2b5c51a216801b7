package nicplug

import (
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// Wiring is what a NIC is connected to and whether its link is up: the
// desired wiring of an update, or the recorded wiring of a running NIC.
type Wiring struct {
	// Device is the NIC's QEMU device id.
	Device string
	// Hub is the id of the NIC's own hub.
	Hub int
	// MAC is the NIC's MAC (needed for macvtaps).
	MAC string
	// Backend is what sits behind the NIC; IsNone means unplugged.
	Backend domain.Backend
	// LinkUp is the NIC's link state. It is never true without a backend.
	LinkUp bool
	// Datapath is the NIC's datapath; "" means the hub.
	Datapath domain.Datapath
	// LinkUnknown, in a recorded wiring, says that LinkUp is a guess
	// (nicplug attached without the domain and has not set the link
	// since): plans then set the link explicitly.
	LinkUnknown bool
}

// WiringOf returns the wiring a domain NIC asks for.
func WiringOf(n *domain.NIC) Wiring {
	b := n.Backend()
	if b.Type == "" {
		b.Type = domain.TypeNone
	}
	return Wiring{
		Device:   n.DeviceID(),
		Hub:      n.HubID(),
		MAC:      n.MAC(),
		Backend:  b,
		LinkUp:   n.LinkUp() && !b.IsNone(),
		Datapath: n.Datapath(),
	}
}

// State is a VM's live network wiring, read back from QEMU and the host.
type State struct {
	// VM is the domain name.
	VM string
	// Running reports whether the guest CPUs run (query-status).
	Running bool
	// NICs are the NICs nicplug manages, in domain order.
	NICs []NICState
	// Unmanaged are the other NICs QEMU has, with the reason nicplug does
	// not manage them (filled by a full read-back: [ReadWiring],
	// [VM.State]).
	Unmanaged []UnmanagedNIC
}

// NIC returns the state of the NIC with device id dev.
func (s *State) NIC(dev string) (*NICState, bool) {
	for i := range s.NICs {
		if s.NICs[i].Device == dev {
			return &s.NICs[i], true
		}
	}
	return nil, false
}

// NICState is one NIC's live wiring.
type NICState struct {
	// Device is the QEMU device id.
	Device string
	// MAC is the NIC's MAC as QEMU reports it.
	MAC string
	// Peer is the NIC's netdev (its hub port), "" when it has none.
	Peer string
	// Hub is the hub the NIC's hub port is on, -1 when it is on none.
	Hub int
	// Backends are the backend netdevs of this NIC that exist in QEMU, of
	// any generation, attached to the hub or standalone, newest first.
	Backends []BackendState
	// StrayPorts are hub ports of this NIC's backends whose backend is gone.
	StrayPorts []string
	// HostLinks are the host links nicplug created for this NIC (on the
	// tap datapath, its fixed tap and macvlans among them).
	HostLinks []string
	// Datapath is the NIC's datapath as its peer shows: hub when peered
	// with its hub port, tap when peered with its fixed tap.
	Datapath domain.Datapath
	// Tap is what the fixed tap of a tap-datapath NIC is plugged into on
	// the host; nil on the hub datapath.
	Tap *TapState
	// Queues is the number of queue pairs `info network` lists for a
	// tap-datapath NIC (0 on the hub datapath, which has one).
	Queues int
}

// TapState is a tap-datapath NIC's fixed tap as read back from the host.
type TapState struct {
	// Name is the tap's name.
	Name string
	// Missing reports that the host does not list the tap (deleted
	// behind nicplug's back, or in another network namespace).
	Missing bool
	// Plug is what the tap is plugged into.
	Plug backend.TapPlug
	// Macvlans are the macvlans nicplug created for this NIC (in use or
	// leftovers), by name.
	Macvlans map[string]backend.OwnedLink
}

// Attached returns the backend joined to the NIC's hub, the newest one if
// an interrupted plan left several.
func (ns *NICState) Attached() (BackendState, bool) {
	for _, b := range ns.Backends {
		if b.Attached() {
			return b, true
		}
	}
	return BackendState{}, false
}

// Leftovers returns the netdev ids an interrupted plan left behind in QEMU
// for this NIC, which the next plan removes: standalone backends, backends
// attached to the hub besides the one [NICState.Attached] returns, and
// stray hub ports. Host links are not included.
func (ns *NICState) Leftovers() []string {
	var out []string
	first, _ := ns.Attached()
	for _, b := range ns.Backends {
		if b.ID != first.ID {
			out = append(out, b.ID)
		}
	}
	return append(out, ns.StrayPorts...)
}

// BackendState is one backend netdev in QEMU.
type BackendState struct {
	// ID is the netdev id.
	ID string
	// Driver is QEMU's client type: tap, user, socket.
	Driver string
	// Port is the id of the hub port joining it to the NIC's hub, "" when
	// it is standalone.
	Port string
}

// Attached reports whether the backend is joined to the NIC's hub.
func (b BackendState) Attached() bool { return b.Port != "" }
