package nicplug

import (
	"slices"
	"strings"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// UnmanagedNIC is a NIC in QEMU that nicplug does not manage, as a full
// read-back finds it in `info network`.
type UnmanagedNIC struct {
	// Name is the NIC's net client name: its device id, or the name QEMU
	// made up for a device without one.
	Name string
	// Model and MAC are the NIC's model and MAC ("" when not printed).
	Model, MAC string
	// Peer is the net client it is peered with ("" for none) and
	// PeerType that client's type.
	Peer, PeerType string
	// Reason says why nicplug does not manage it.
	Reason string
}

// unmanaged returns the NICs of ni that are not among managed, sorted by
// name.
func unmanaged(ni *backend.NetworkInfo, managed []NICState) []UnmanagedNIC {
	isManaged := func(name string) bool {
		return slices.ContainsFunc(managed, func(ns NICState) bool { return ns.Device == name })
	}
	var out []UnmanagedNIC
	add := func(nic backend.Client, peer *backend.Client) {
		if nic.Type != "nic" || nic.Index != 0 || isManaged(nic.Name) {
			return
		}
		u := UnmanagedNIC{Name: nic.Name}
		for _, f := range strings.Split(nic.Info, ",") {
			if v, ok := strings.CutPrefix(f, "model="); ok {
				u.Model = v
			}
			if v, ok := strings.CutPrefix(f, "macaddr="); ok {
				u.MAC = v
			}
		}
		own := domain.HubPortIDFor(nic.Name)
		switch {
		case peer == nil:
			u.Reason = "it has no peer; nicplug manages NICs peered with a hub port of their own (" + own + ") or a fixed tap of their own (" + domain.TapNetdevIDFor(nic.Name) + "), as `nicplug qemu-args` boots them"
		case peer.Name == own || peer.Name == domain.TapNetdevIDFor(nic.Name):
			u.Peer, u.PeerType = peer.Name, peer.Type
			u.Reason = "it is wired by nicplug but not part of this domain"
		default:
			u.Peer, u.PeerType = peer.Name, peer.Type
			u.Reason = "it is peered with " + peer.Name + " (" + peer.Type + "), not with a hub port of its own (" + own + "): it was not booted with the arguments of `nicplug qemu-args`"
		}
		out = append(out, u)
	}
	for _, c := range ni.Clients {
		add(c, c.Peer)
	}
	for _, h := range ni.Hubs {
		for _, p := range h.Ports {
			if p.Peer != nil {
				port := backend.Client{Name: p.Name, Type: "hubport"}
				add(*p.Peer, &port)
			}
		}
	}
	slices.SortFunc(out, func(a, b UnmanagedNIC) int { return strings.Compare(a.Name, b.Name) })
	return out
}
