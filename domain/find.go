package domain

import (
	"fmt"

	"libvirt.org/go/libvirtxml"
)

// Find returns the domain's NIC that update refers to, following libvirt's
// virDomainNetFindIdx: with an alias, the NIC whose device id is that alias
// (and, when update has a MAC, whose MAC is that MAC); without one, the NIC
// with update's MAC. Several NICs with that MAC and no alias to tell them
// apart is an error wrapping [ErrAmbiguous]; no match wraps [ErrNoDevice].
func (d *Domain) Find(update *NIC) (*NIC, error) {
	if update == nil || update.XML == nil {
		return nil, &findError{"domain: no device found: the update is empty", ErrNoDevice}
	}
	mac := update.MAC()
	alias := ""
	if update.XML.Alias != nil {
		alias = update.XML.Alias.Name
	}
	var match *NIC
	for _, n := range d.NICs {
		if mac != "" && n.MAC() != mac {
			continue
		}
		if alias != "" && n.DeviceID() != alias {
			continue
		}
		if match != nil {
			if mac != "" {
				return nil, &findError{fmt.Sprintf("domain: multiple devices matching MAC address %s found", mac), ErrAmbiguous}
			}
			return nil, &findError{"domain: multiple matching devices found", ErrAmbiguous}
		}
		match = n
	}
	if match == nil {
		switch {
		case mac != "" && alias != "":
			return nil, &findError{fmt.Sprintf("domain: no device matching MAC address %s and alias %s found", mac, alias), ErrNoDevice}
		case mac != "":
			return nil, &findError{fmt.Sprintf("domain: no device matching MAC address %s found", mac), ErrNoDevice}
		default:
			return nil, &findError{fmt.Sprintf("domain: no device matching alias %s found", alias), ErrNoDevice}
		}
	}
	return match, nil
}

// WithUpdate returns a copy of d whose NIC matching update (see
// [Domain.Find]) is replaced by update, after checking with [Diff] that the
// change can happen live. The replacement takes Index, and when update
// leaves them out, alias, MAC, PCI address and tap name from the NIC it
// replaces, as libvirt does. Neither d nor update is modified; the copy
// shares the unchanged parts of the document with d, so treat XML as
// read-only.
func (d *Domain) WithUpdate(update *NIC) (*Domain, error) {
	old, err := d.Find(update)
	if err != nil {
		return nil, err
	}
	if _, err := Diff(old, update); err != nil {
		return nil, err
	}
	n := merged(old, update)
	x := *d.XML
	if x.Devices != nil {
		devs := *x.Devices
		x.Devices = &devs
	} else {
		x.Devices = &libvirtxml.DomainDeviceList{}
	}
	nd := &Domain{XML: &x, NICs: make([]*NIC, len(d.NICs))}
	x.Devices.Interfaces = make([]libvirtxml.DomainInterface, len(d.NICs))
	for i, o := range d.NICs {
		src := o
		if i == old.Index {
			src = n
		}
		x.Devices.Interfaces[i] = *src.XML
		c := *src
		c.XML = &x.Devices.Interfaces[i]
		c.Index = i
		nd.NICs[i] = &c
	}
	return nd, nil
}

// merged is update as it replaces old: identity fields it leaves out are
// taken from old. Only the top-level element is copied.
func merged(old, update *NIC) *NIC {
	x := *update.XML
	if x.Alias == nil && old.XML.Alias != nil {
		a := *old.XML.Alias
		x.Alias = &a
	}
	if x.MAC == nil && old.XML.MAC != nil {
		m := *old.XML.MAC
		x.MAC = &m
	}
	if x.Address == nil && old.XML.Address != nil {
		x.Address = old.XML.Address
	}
	if x.Target == nil && old.XML.Target != nil && old.backend.Type != TypeEthernet && update.backend.Type != TypeEthernet {
		t := *old.XML.Target
		x.Target = &t
	}
	n := *update
	n.XML = &x
	n.Index = old.Index
	return &n
}
