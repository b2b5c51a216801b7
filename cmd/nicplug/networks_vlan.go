package main

import (
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nicplug/nicplug/domain"
	"libvirt.org/go/libvirtxml"
)

// network is one libvirt <network> definition as nicplug applies it.
type network struct {
	name string
	// backend is what an interface on the network gets, with the
	// network's own access VLAN (0: none).
	backend domain.Backend
	// groups are its portgroups by name; defaultGroup is the one marked
	// default='yes', "" if none.
	groups       map[string]portGroup
	defaultGroup string
}

// portGroup is a portgroup of a network.
type portGroup struct {
	// vlan is its access VLAN, 0 when it sets none (the network's then
	// applies, as in libvirt).
	vlan int
	// refused says why an interface cannot use it, "" when it can.
	refused string
}

// resolve returns the backend of an interface on the network in
// portgroup group ("" for the default portgroup, if any). The VLAN is the
// portgroup's, else the network's; an interface's own <vlan> overrides
// both (domain applies it after resolving), which is libvirt's order.
func (n *network) resolve(group string) (domain.Backend, error) {
	b := n.backend
	if group == "" {
		group = n.defaultGroup
		if group == "" {
			return b, nil
		}
	}
	g, ok := n.groups[group]
	if !ok {
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range n.groups {
				if !yield(k) {
					return
				}
			}
		})
		has := "none"
		if len(names) > 0 {
			has = strings.Join(names, ", ")
		}
		return b, fmt.Errorf("network '%s' has no portgroup '%s' (it has: %s)", cutString(n.name, 64), cutString(group, 64), has)
	}
	if g.refused != "" {
		return b, fmt.Errorf("network '%s', portgroup '%s': %s", cutString(n.name, 64), cutString(group, 64), g.refused)
	}
	if g.vlan != 0 {
		b.VLAN = g.vlan
	}
	return b, nil
}

// accessVLAN returns the access VLAN a network's or portgroup's <vlan> v
// gives an interface with backend b: one tag, not native, on a bridge.
func accessVLAN(v *libvirtxml.NetworkVLAN, b domain.Backend) (int, error) {
	switch {
	case v == nil:
		return 0, nil
	case v.Trunk != "" || len(v.Tags) != 1:
		return 0, fmt.Errorf("<vlan> with %d tags (trunk='%s') is not supported: want one <tag id='N'/>, an access port", len(v.Tags), cutString(v.Trunk, 64))
	case v.Tags[0].NativeMode != "":
		return 0, fmt.Errorf("<vlan> tag nativeMode='%s' is not supported: want an access port", cutString(v.Tags[0].NativeMode, 64))
	case b.Type != domain.TypeBridge:
		return 0, fmt.Errorf("<vlan> on a network whose interfaces get type %s is not supported: only a bridge port can be a VLAN access port", b.Type)
	case v.Tags[0].ID < 1 || v.Tags[0].ID > 4094:
		return 0, fmt.Errorf("vlan tag id %d is out of range 1-4094", v.Tags[0].ID)
	}
	return int(v.Tags[0].ID), nil
}

// readPortGroups fills n.groups from x (data, the document, is read again
// for what libvirtxml does not keep of a portgroup: <bandwidth>).
func (n *network) readPortGroups(data []byte, x *libvirtxml.Network) error {
	var raw struct {
		PortGroups []struct {
			Name      string    `xml:"name,attr"`
			Bandwidth *struct{} `xml:"bandwidth"`
		} `xml:"portgroup"`
	}
	if err := xml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("parse <network>: %s", cutString(err.Error(), 200))
	}
	if len(raw.PortGroups) != len(x.PortGroups) {
		return errors.New("portgroups could not be read")
	}
	for i, pg := range x.PortGroups {
		name := cutString(pg.Name, 64)
		if pg.Name == "" {
			return errors.New("a <portgroup> has no name")
		}
		if _, dup := n.groups[pg.Name]; dup {
			return fmt.Errorf("two portgroups named '%s'", name)
		}
		var g portGroup
		switch {
		case pg.VirtualPort != nil:
			g.refused = "<virtualport> is not supported (nicplug does not apply it)"
		case raw.PortGroups[i].Bandwidth != nil:
			g.refused = "<bandwidth> is not supported (nicplug does not apply it)"
		default:
			vlan, err := accessVLAN(pg.VLAN, n.backend)
			if err != nil {
				return fmt.Errorf("portgroup '%s': %w", name, err)
			}
			g.vlan = vlan
		}
		if pg.Default == "yes" {
			if n.defaultGroup != "" {
				return fmt.Errorf("portgroups '%s' and '%s' are both default='yes'", cutString(n.defaultGroup, 64), name)
			}
			n.defaultGroup = pg.Name
		}
		n.groups[pg.Name] = g
	}
	return nil
}
