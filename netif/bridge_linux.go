package netif

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
)

// SetMaster enslaves the nicplug-owned device link to bridge in the
// namespace at netns ("" = the caller's), or releases it when bridge is "".
// A device enslaved to another bridge is moved in one netlink request; if
// the kernel releases it and then fails to enslave it, the old master is
// restored. Already being where asked is not an error. A missing link or
// bridge is an error matching os.ErrNotExist, a bridge that is no bridge
// one matching os.ErrInvalid, a device without nicplug's tag [ErrNotOwned].
func SetMaster(ctx context.Context, netns, link, bridge string) error {
	if err := validateName("device", link); err != nil {
		return newOpError("set master", link, err)
	}
	if bridge != "" {
		if err := validateName("bridge", bridge); err != nil {
			return newOpError("set master", link, err)
		}
	}
	_, err := inNetns(ctx, netns, func(ns *nsRef, h *netlink.Handle) (struct{}, error) {
		return struct{}{}, setMaster(h, ns, link, bridge)
	})
	return newOpError("set master", link, err)
}

func setMaster(h *netlink.Handle, ns *nsRef, link, bridge string) error {
	nl, err := lookupOwned(h, ns, link)
	if err != nil {
		return err
	}
	old := nl.Attrs().MasterIndex
	if bridge == "" {
		if old == 0 {
			return nil
		}
		if err := h.LinkSetNoMaster(nl); err != nil {
			return fmt.Errorf("release %q from its master: %w", link, err)
		}
		return nil
	}
	br, err := lookupBridge(h, ns, bridge)
	if err != nil {
		return err
	}
	if old == br.Attrs().Index {
		return nil
	}
	if err := h.LinkSetMasterByIndex(nl, br.Attrs().Index); err != nil {
		err = fmt.Errorf("enslave %q to bridge %q: %w", link, bridge, err)
		if now, lerr := h.LinkByIndex(nl.Attrs().Index); lerr == nil && now.Attrs().MasterIndex != old && old != 0 {
			if rerr := h.LinkSetMasterByIndex(now, old); rerr != nil {
				err = errors.Join(err, fmt.Errorf("undo: re-enslave %q to ifindex %d: %w", link, old, rerr))
			}
		}
		return err
	}
	return nil
}

// lookupOwned finds the device name and checks nicplug's owner tag.
func lookupOwned(h *netlink.Handle, ns *nsRef, name string) (netlink.Link, error) {
	nl, err := lookup(h, ns, "device", name)
	if err != nil {
		return nil, err
	}
	if _, ok := ParseOwner(nl.Attrs().Alias); !ok {
		return nil, fmt.Errorf("%q in %s (alias %q): %w: refusing to change it", name, ns.name(), nl.Attrs().Alias, ErrNotOwned)
	}
	return nl, nil
}

// lookupBridge finds the bridge name; a device of another kind is invalid.
func lookupBridge(h *netlink.Handle, ns *nsRef, name string) (*netlink.Bridge, error) {
	nl, err := lookup(h, ns, "bridge", name)
	if err != nil {
		return nil, err
	}
	br, ok := nl.(*netlink.Bridge)
	if !ok {
		return nil, invalidf("%q in %s is a %s, not a bridge", name, ns.name(), describe(nl))
	}
	return br, nil
}

// SetAccessVLAN makes the nicplug-owned bridge port link an access port of
// VLAN vlan (1..4094) on its bridge: vlan becomes its only VLAN, PVID and
// untagged. vlan 0 restores the bridge's default: its default_pvid, PVID
// and untagged (no VLAN at all when default_pvid is 0). The bridge must
// filter VLANs; SetAccessVLAN never changes the bridge. If a step fails,
// the port's previous VLANs are put back.
func SetAccessVLAN(ctx context.Context, netns, link string, vlan int) error {
	if err := validateName("device", link); err != nil {
		return newOpError("set access VLAN", link, err)
	}
	if err := validateVLAN(vlan); err != nil {
		return newOpError("set access VLAN", link, err)
	}
	_, err := inNetns(ctx, netns, func(ns *nsRef, h *netlink.Handle) (struct{}, error) {
		return struct{}{}, setAccessVLAN(h, ns, link, vlan)
	})
	return newOpError("set access VLAN", link, err)
}

// portBridge returns the VLAN-filtering bridge the port nl is enslaved to.
func portBridge(h *netlink.Handle, ns *nsRef, nl netlink.Link) (*netlink.Bridge, error) {
	name := nl.Attrs().Name
	if nl.Attrs().MasterIndex == 0 {
		return nil, invalidf("%q in %s is not enslaved to a bridge", name, ns.name())
	}
	m, err := h.LinkByIndex(nl.Attrs().MasterIndex)
	if err != nil {
		return nil, fmt.Errorf("look up the master of %q: %w", name, err)
	}
	br, ok := m.(*netlink.Bridge)
	if !ok {
		return nil, invalidf("the master of %q in %s, %q, is a %s, not a bridge", name, ns.name(), m.Attrs().Name, describe(m))
	}
	if br.VlanFiltering == nil || !*br.VlanFiltering {
		b := br.Attrs().Name
		return nil, invalidf("bridge %q in %s does not filter VLANs (enable it with `ip link set %s type bridge vlan_filtering 1`)", b, ns.name(), b)
	}
	return br, nil
}

func setAccessVLAN(h *netlink.Handle, ns *nsRef, link string, vlan int) error {
	nl, err := lookupOwned(h, ns, link)
	if err != nil {
		return err
	}
	br, err := portBridge(h, ns, nl)
	if err != nil {
		return err
	}
	vid := vlan
	if vid == 0 && br.VlanDefaultPVID != nil {
		vid = int(*br.VlanDefaultPVID)
	}
	var want []PortVLAN
	if vid != 0 {
		want = []PortVLAN{{VID: vid, PVID: true, Untagged: true}}
	}
	old, err := portVLANs(h, nl.Attrs().Index)
	if err != nil {
		return err
	}
	if slices.Equal(old, want) {
		return nil
	}
	if err := applyVLANs(h, nl, old, want); err != nil {
		err = fmt.Errorf("make %q an access port of VLAN %d on %q: %w", link, vid, br.Attrs().Name, err)
		if now, rerr := portVLANs(h, nl.Attrs().Index); rerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", rerr))
		} else if rerr := applyVLANs(h, nl, now, old); rerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: restore VLANs %v: %w", old, rerr))
		}
		return err
	}
	return nil
}

// applyVLANs changes the port's VLANs from have to want: the new PVID
// first (so the port never has none while want has one), then the other
// additions, then the removals.
func applyVLANs(h *netlink.Handle, nl netlink.Link, have, want []PortVLAN) error {
	add := slices.Clone(want)
	slices.SortStableFunc(add, func(a, b PortVLAN) int {
		switch {
		case a.PVID == b.PVID:
			return 0
		case a.PVID:
			return -1
		}
		return 1
	})
	for _, v := range add {
		if slices.Contains(have, v) {
			continue
		}
		if err := h.BridgeVlanAdd(nl, uint16(v.VID), v.PVID, v.Untagged, false, true); err != nil {
			return fmt.Errorf("add VLAN %v: %w", v, err)
		}
	}
	for _, v := range have {
		if slices.ContainsFunc(want, func(w PortVLAN) bool { return w.VID == v.VID }) {
			continue
		}
		if err := h.BridgeVlanDel(nl, uint16(v.VID), false, false, false, true); err != nil {
			return fmt.Errorf("delete VLAN %d: %w", v.VID, err)
		}
	}
	return nil
}

// portVLANs dumps the bridge VLANs of the device with ifindex index,
// sorted by VID.
func portVLANs(h *netlink.Handle, index int) ([]PortVLAN, error) {
	var (
		all map[int32][]*nl.BridgeVlanInfo
		err error
	)
	for attempt := 1; ; attempt++ {
		all, err = h.BridgeVlanList()
		if err == nil || !errors.Is(err, netlink.ErrDumpInterrupted) || attempt == listAttempts {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list bridge VLANs: %w", err)
	}
	var out []PortVLAN
	for _, v := range all[int32(index)] {
		out = append(out, PortVLAN{VID: int(v.Vid), PVID: v.PortVID(), Untagged: v.EngressUntag()})
	}
	slices.SortFunc(out, func(a, b PortVLAN) int { return a.VID - b.VID })
	return out, nil
}

// PortVLANs returns the VLANs of the bridge port link in the namespace at
// netns, sorted by VID; nil when it has none (e.g. it is not enslaved).
// A bridge keeps its ports' VLANs even while it does not filter VLANs (a new
// port gets default_pvid); they then have no effect. The device need not
// be nicplug's.
func PortVLANs(ctx context.Context, netns, link string) ([]PortVLAN, error) {
	if err := validateName("device", link); err != nil {
		return nil, newOpError("read VLANs", link, err)
	}
	vlans, err := inNetns(ctx, netns, func(ns *nsRef, h *netlink.Handle) ([]PortVLAN, error) {
		nl, err := lookup(h, ns, "device", link)
		if err != nil {
			return nil, err
		}
		return portVLANs(h, nl.Attrs().Index)
	})
	return vlans, newOpError("read VLANs", link, err)
}

// CheckBridge reports whether bridge exists in netns and is a bridge,
// and, when vlans is set, whether it filters VLANs: what a tap needs to be
// enslaved to it (and made an access port) later. It changes nothing, so
// a plan can check the bridge before it takes a NIC's link down.
func CheckBridge(ctx context.Context, netns, bridge string, vlans bool) error {
	if err := validateName("bridge", bridge); err != nil {
		return newOpError("check bridge", bridge, err)
	}
	_, err := inNetns(ctx, netns, func(ns *nsRef, h *netlink.Handle) (struct{}, error) {
		br, err := lookupBridge(h, ns, bridge)
		if err != nil {
			return struct{}{}, err
		}
		if vlans && (br.VlanFiltering == nil || !*br.VlanFiltering) {
			return struct{}{}, invalidf("bridge %q in %s does not filter VLANs (enable it with `ip link set %s type bridge vlan_filtering 1`)", bridge, ns.name(), bridge)
		}
		return struct{}{}, nil
	})
	return newOpError("check bridge", bridge, err)
}
