package domain

import (
	"errors"
	"fmt"
	"strconv"
)

// Diff computes what changes from old to new, or a [*ChangeError] for the
// first property that cannot change while the guest runs (checked in
// libvirt's order: MAC, model, driver, tap name, PCI address, alias, rom,
// boot order, MTU). What new leaves out (MAC, alias, PCI address, tap name)
// is kept from old, as libvirt does. Identical NICs give an empty
// [ChangeSet].
//
// The link in the change set is the effective state ([NIC.LinkUp]): going
// from type none to a backend with no <link state='down'/> both plugs the
// backend and brings the link up; going to none brings it down.
func Diff(old, new *NIC) (ChangeSet, error) {
	if old == nil || new == nil || old.XML == nil || new.XML == nil {
		return ChangeSet{}, errors.New("domain: diff: nil NIC")
	}
	if err := checkFixed(old, new); err != nil {
		return ChangeSet{}, err
	}
	var c ChangeSet
	if o, n := old.LinkUp(), new.LinkUp(); o != n {
		c.Link = &n
	}
	if old.backend != new.backend {
		b := new.backend
		c.Backend = &b
	}
	return c, nil
}

func checkFixed(old, new *NIC) error {
	change := func(field, o, n string) error {
		if o == n {
			return nil
		}
		return &ChangeError{Field: field, Old: o, New: n}
	}
	if m := new.MAC(); m != "" {
		if err := change(FieldMAC, old.MAC(), m); err != nil {
			return err
		}
	}
	if err := change(FieldModel, old.Model(), new.Model()); err != nil {
		return err
	}
	if err := change(FieldDriver, driverString(old), driverString(new)); err != nil {
		return err
	}
	if old.backend.Type != TypeEthernet && new.backend.Type != TypeEthernet &&
		old.XML.Target != nil && new.XML.Target != nil {
		if err := change(FieldTapName, old.XML.Target.Dev, new.XML.Target.Dev); err != nil {
			return err
		}
	}
	if new.XML.Address != nil {
		if err := change(FieldPCIAddress, addressString(old), addressString(new)); err != nil {
			return err
		}
	}
	if new.XML.Alias != nil {
		if err := change(FieldAlias, old.DeviceID(), new.XML.Alias.Name); err != nil {
			return err
		}
	}
	if err := change(FieldROMBar, romBar(old), romBar(new)); err != nil {
		return err
	}
	if err := change(FieldROMEnabled, romEnabled(old), romEnabled(new)); err != nil {
		return err
	}
	if err := change(FieldBootOrder, bootOrder(old), bootOrder(new)); err != nil {
		return err
	}
	return change(FieldMTU, mtu(old), mtu(new))
}

func driverString(n *NIC) string {
	name, queues := "qemu", uint(1)
	if d := n.XML.Driver; d != nil {
		if d.Name != "" {
			name = d.Name
		}
		if d.Queues != 0 {
			queues = d.Queues
		}
	}
	return fmt.Sprintf("name=%s queues=%d", name, queues)
}

func addressString(n *NIC) string {
	if n.XML.Address == nil {
		return "(default)"
	}
	a, err := pciAddress(n.XML.Address)
	if err != nil {
		return "(invalid)"
	}
	return a.String()
}

func romBar(n *NIC) string {
	if n.XML.ROM == nil || n.XML.ROM.Bar == "" {
		return "on"
	}
	return n.XML.ROM.Bar
}

func romEnabled(n *NIC) string {
	if n.XML.ROM == nil || n.XML.ROM.Enabled == "" {
		return "yes"
	}
	return n.XML.ROM.Enabled
}

func bootOrder(n *NIC) string {
	if n.XML.Boot == nil {
		return "(none)"
	}
	return strconv.FormatUint(uint64(n.XML.Boot.Order), 10)
}

func mtu(n *NIC) string {
	if n.XML.MTU == nil {
		return "(default)"
	}
	return strconv.FormatUint(uint64(n.XML.MTU.Size), 10)
}
