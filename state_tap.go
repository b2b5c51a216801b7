package nicplug

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// tapHost returns host's tap-datapath side.
func tapHost(host backend.Host) (backend.TapHost, error) {
	th, ok := host.(backend.TapHost)
	if !ok {
		return nil, fmt.Errorf("nicplug: the host (%T) does not implement backend.TapHost, which the tap datapath needs", host)
	}
	return th, nil
}

// ReadTap reads back, from host alone, the fixed tap of device's NIC in VM
// vm on the tap datapath: what it is plugged into and the macvlans nicplug
// created for the NIC. A tap the host does not list comes back Missing.
// host must implement [backend.TapHost]. It changes nothing.
func ReadTap(ctx context.Context, host backend.Host, vm, device string) (*TapState, error) {
	owned, err := host.ListOwned(ctx, vm)
	if err != nil {
		return nil, fmt.Errorf("nicplug: read back: %w", err)
	}
	return readTapOwned(ctx, host, vm, device, owned)
}

// readTapOwned is [ReadTap] given the VM's owned links.
func readTapOwned(ctx context.Context, host backend.Host, vm, device string, owned []backend.OwnedLink) (*TapState, error) {
	th, err := tapHost(host)
	if err != nil {
		return nil, err
	}
	t := &TapState{Name: backend.TapName(vm, device), Macvlans: map[string]backend.OwnedLink{}}
	for _, l := range owned {
		if l.Owner.NIC == device && l.Kind == "macvlan" {
			t.Macvlans[l.Name] = l
		}
	}
	plug, err := th.TapPlug(ctx, t.Name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		t.Missing = true
	case err != nil:
		return nil, fmt.Errorf("nicplug: read back: %w", err)
	default:
		t.Plug = plug
	}
	return t, nil
}

// asRead returns b as the host reads it back once the tap is plugged into
// it: a bridge backend on the tap's live bridge whose VLAN is that
// bridge's default PVID reads as VLAN 0 (see backend.TapPlug), so an
// explicit <tag> equal to the default is the same wiring as none.
func (t *TapState) asRead(b domain.Backend) domain.Backend {
	if b.Type == domain.TypeBridge && b.VLAN != 0 && b.Bridge == t.Plug.Master && b.VLAN == t.Plug.DefaultPVID {
		b.VLAN = 0
	}
	return b
}

// Backend returns the backend the tap is plugged into, as the host shows
// it: a bridge (with its access VLAN), a direct backend (a macvlan nicplug
// created, joined to the tap both ways), an ethernet one (a foreign
// interface joined to the tap both ways), or none. ok is false when the
// plumbing is none of these: half of a redirect pair, or a master and a
// redirect at once (an interrupted plan).
func (t *TapState) Backend() (b domain.Backend, ok bool) {
	p := t.Plug
	switch {
	case t.Missing:
		return domain.Backend{Type: domain.TypeNone}, false
	case p.Master != "" && p.Redirect == "":
		return domain.Backend{Type: domain.TypeBridge, Bridge: p.Master, VLAN: p.VLAN}, true
	case p.Master == "" && p.Redirect != "" && p.Back:
		if mv, ok := t.Macvlans[p.Redirect]; ok {
			return domain.Backend{Type: domain.TypeDirect, Dev: mv.Parent, Mode: mv.Mode}, true
		}
		return domain.Backend{Type: domain.TypeEthernet, Dev: p.Redirect}, true
	case p.Master == "" && p.Redirect == "":
		return domain.Backend{Type: domain.TypeNone}, true
	}
	return domain.Backend{Type: domain.TypeNone}, false
}

// clone returns a deep copy of t.
func (t *TapState) clone() *TapState {
	if t == nil {
		return nil
	}
	c := *t
	c.Plug.VLANs = append([]string(nil), t.Plug.VLANs...)
	c.Macvlans = make(map[string]backend.OwnedLink, len(t.Macvlans))
	for k, v := range t.Macvlans {
		c.Macvlans[k] = v
	}
	return &c
}

// asLiveTap is [AsLive] for a NIC on the tap datapath: its fixed tap
// plugged into w's backend, a direct backend through the NIC's first
// macvlan.
func asLiveTap(vm string, w Wiring) NICState {
	tap := backend.TapName(vm, w.Device)
	ns := NICState{Device: w.Device, MAC: w.MAC, Peer: domain.TapNetdevIDFor(w.Device), Hub: -1,
		Datapath: domain.DatapathTap, HostLinks: []string{tap}}
	t := &TapState{Name: tap, Macvlans: map[string]backend.OwnedLink{}}
	switch b := w.Backend; b.Type {
	case domain.TypeBridge:
		t.Plug = backend.TapPlug{Master: b.Bridge, VLAN: b.VLAN}
	case domain.TypeDirect:
		mv := backend.LinkName(vm, w.Device, 1)
		t.Macvlans[mv] = backend.OwnedLink{Name: mv, Owner: backend.Owner{VM: vm, NIC: w.Device}, Kind: "macvlan", Parent: b.Dev, Mode: b.Mode}
		t.Plug = backend.TapPlug{Redirect: mv, Back: true}
		ns.HostLinks = append(ns.HostLinks, mv)
	case domain.TypeEthernet:
		t.Plug = backend.TapPlug{Redirect: b.Dev, Back: true}
	}
	ns.Tap = t
	slices.Sort(ns.HostLinks)
	return ns
}
