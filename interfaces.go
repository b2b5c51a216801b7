package nicplug

import (
	"context"
	"slices"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// Interface is one NIC's live wiring, as [VM.Interfaces] reports it.
//
// # Link state
//
// LinkUp is the state nicplug last set, not read back: QEMU 7.2 has no way
// to report a NIC's link state. set_link only flips the net client's
// link_down flag (and, for virtio-net, the VIRTIO_NET_S_LINK_UP bit of the
// device's config space, seen by the guest); `info network` prints
// name/index/type/model/macaddr and no link; qom-list/qom-get expose no
// such property (virtio-net's "status" is the VIRTIO_NET_F_STATUS feature
// bit, true either way); query-rx-filter reports filters only; and
// x-query-virtio-status reports the virtio device status, features and
// ISR, not the config space: its output is identical before and after
// set_link (checked on 7.2). Only the guest-visible config space holds the
// bit, which QMP cannot read. So a VM remembers each link state it sets,
// starting from the domain's <link state>, and after an interrupted plan
// the next plan sets the link explicitly instead of trusting the record.
type Interface struct {
	// Device is the QEMU device id.
	Device string
	// MAC is the MAC QEMU reports.
	MAC string
	// Hub is the NIC's hub id (-1 if it has none).
	Hub int
	// LinkUp is the link state nicplug last set on this VM; before any
	// plan set it, the domain's <link state> (see LinkUnknown).
	LinkUp bool
	// LinkUnknown reports that no plan applied on this VM (since [Attach]
	// or [AttachRunning]) has set the NIC's link: LinkUp is then what the
	// domain asks for, or a guess without the domain, not QEMU's state,
	// which no query reports (QEMU boots every link up; a plan interrupted
	// in another process may have left it down).
	LinkUnknown bool
	// BackendID is the attached backend netdev, "" when unplugged.
	BackendID string
	// Driver is QEMU's type of the attached backend (tap, user, socket).
	Driver string
	// Backend is the attached backend's spec when it is the configured one
	// (its hash matches) and, for a backend that owns a host link (a
	// macvtap or bridge tap nicplug creates), the host lists that link
	// where the VM looks ([Config.Netns]; see MissingLink); Type none when
	// unplugged; zero when unknown.
	// On the tap datapath it is what the host shows the fixed tap plugged
	// into, whatever the domain says; zero when the plumbing is half done
	// (an interrupted plan, which the next plan completes or removes).
	Backend domain.Backend
	// MissingLink is, on the hub datapath, the host link the attached
	// backend owns (its netdev id matches the configuration) when the
	// host does not list it where the VM looks ([Config.Netns]): it is in
	// another network namespace, or was deleted behind nicplug's back
	// (`ip link del` of it or of its parent). Backend is zero then: the
	// backend does not work as configured here ([VM.PlanUpdate] reports
	// the link in Plan.Missing and replaces the backend).
	MissingLink string
	// Datapath is the NIC's datapath (hub or tap).
	Datapath domain.Datapath
	// Tap is the fixed tap's name on the tap datapath, "" on the hub.
	Tap string
	// Plug is what the fixed tap is plugged into on the host (tap
	// datapath only).
	Plug backend.TapPlug
}

// Interfaces reads back every NIC's live wiring. A backend that owns a
// host link is named only when the host lists that link where the VM
// looks (see [Interface.MissingLink]).
func (v *VM) Interfaces(ctx context.Context) ([]Interface, error) {
	if err := v.lock(); err != nil {
		return nil, err
	}
	defer v.mu.Unlock()
	st, err := v.readState(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(st.NICs))
	for i, ns := range st.NICs {
		it := Interface{Device: ns.Device, MAC: ns.MAC, Hub: ns.Hub, LinkUp: v.links[ns.Device],
			LinkUnknown: v.linkUnknown[ns.Device] || !v.linkSet[ns.Device], Backend: domain.Backend{Type: domain.TypeNone}}
		it.Datapath = ns.Datapath
		if ns.Tap != nil {
			it.Tap, it.Plug, it.Driver = ns.Tap.Name, ns.Tap.Plug, "tap"
			if b, ok := ns.Tap.Backend(); ok {
				it.Backend = b
			} else {
				it.Backend = domain.Backend{}
			}
		} else if b, ok := ns.Attached(); ok {
			it.BackendID, it.Driver, it.Backend = b.ID, b.Driver, domain.Backend{}
			id, _ := backend.ParseNetdevID(b.ID)
			if cfg := v.dom.NICs[i].Backend(); !cfg.IsNone() && backend.SpecHash(cfg) == id.Hash {
				if link, ok := ownedLink(v.name, ns, cfg, id); ok && !slices.Contains(ns.HostLinks, link) {
					it.MissingLink = link
				} else {
					it.Backend = cfg
				}
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// ownedLink is the host link backend id, of spec spec, owns on ns's NIC
// of VM vm: the macvtap or bridge tap nicplug creates for it (ok false
// for a backend that owns none).
func ownedLink(vm string, ns NICState, spec domain.Backend, id backend.NetdevID) (string, bool) {
	if need, err := backend.Needs(spec); err != nil || !need.Creates() {
		return "", false
	}
	return backend.LinkName(vm, ns.Device, id.Gen), true
}
