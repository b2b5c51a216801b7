package netif

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
)

// ReadTapPlug reads back what the tap name in the namespace at netns ("" =
// the caller's) is plugged into: its master, its VLANs on a bridge, the
// target of nicplug's redirect on its ingress and whether that target is
// redirected back to it. A redirect whose target was deleted (it drops
// every frame) reads as none. A missing tap is an error matching os.ErrNotExist,
// a device that is no tap one matching os.ErrInvalid. The tap need not be
// nicplug's.
func ReadTapPlug(ctx context.Context, netns, name string) (*TapPlug, error) {
	if err := validateName("tap", name); err != nil {
		return nil, newOpError("read tap plug", name, err)
	}
	p, err := inNetns(ctx, netns, func(ns *nsRef, h *netlink.Handle) (*TapPlug, error) {
		return readTapPlug(h, ns, name)
	})
	return p, newOpError("read tap plug", name, err)
}

func readTapPlug(h *netlink.Handle, ns *nsRef, name string) (*TapPlug, error) {
	l, err := lookup(h, ns, "tap", name)
	if err != nil {
		return nil, err
	}
	if tt, ok := l.(*netlink.Tuntap); !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
		return nil, invalidf("%q in %s is a %s, not a tap", name, ns.name(), describe(l))
	}
	p := &TapPlug{}
	if mi := l.Attrs().MasterIndex; mi != 0 {
		m, err := h.LinkByIndex(mi)
		if err != nil {
			return nil, fmt.Errorf("look up the master of %q: %w", name, err)
		}
		p.Master = m.Attrs().Name
		if br, ok := m.(*netlink.Bridge); ok {
			if p.VLANs, err = portVLANs(h, l.Attrs().Index); err != nil {
				return nil, err
			}
			filtering := br.VlanFiltering != nil && *br.VlanFiltering
			if filtering && br.VlanDefaultPVID != nil {
				p.DefaultPVID = int(*br.VlanDefaultPVID)
			}
			// On the bridge's default VLAN alone, the port is where
			// SetAccessVLAN 0 puts it, and where the kernel puts a new
			// port: no access VLAN of its own.
			if v := p.VLANs; filtering && len(v) == 1 && v[0].PVID && v[0].Untagged && v[0].VID != p.DefaultPVID {
				p.VLAN = v[0].VID
			}
		}
	}
	r, _, err := findRedirect(h, ns, l)
	if err != nil || r == nil {
		return p, err
	}
	if r.RedirIndex == 0 {
		// The target was deleted: the kernel keeps the filter, which
		// drops every frame, and reports no device.
		return p, nil
	}
	t, err := h.LinkByIndex(r.RedirIndex)
	if err != nil {
		if linkNotFound(err) {
			return p, nil
		}
		return nil, fmt.Errorf("look up the redirect target of %q: %w", name, err)
	}
	p.Redirect = t.Attrs().Name
	back, _, err := findRedirect(h, ns, t)
	if err != nil {
		return nil, err
	}
	p.Back = back != nil && back.RedirIndex == l.Attrs().Index
	return p, nil
}
