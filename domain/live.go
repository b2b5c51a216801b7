package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// Device is a NIC as a running QEMU reports it (qom-get on
// /machine/peripheral/<id>): what [FromDevices] rebuilds an <interface>
// from when no domain XML is at hand.
type Device struct {
	// ID is the QEMU device id.
	ID string
	// Driver is the device's QOM type ("virtio-net-pci", "e1000", …).
	Driver string
	// MAC is the device's "mac".
	MAC string
	// Hub is the id of the NIC's own hub: its index in the domain.
	Hub int
	// DevFn is the device's PCI "addr" (slot<<3 | function), -1 when
	// unknown or not on the machine's root bus.
	DevFn int
	// Multifunction is the device's "multifunction".
	Multifunction bool
	// BootIndex is the device's "bootindex", -1 for none.
	BootIndex int
	// ROMBar is the device's "rombar": 0 is off, any other value on.
	// Its type and default differ between QEMU versions: 7.2 reports an
	// unsigned 1 by default, 9.x and 10.0 a signed -1 ("auto").
	ROMBar int
	// ROMFile is the device's "romfile" ("" = no option ROM).
	ROMFile string
	// HostMTU is a virtio-net device's "host_mtu" (0 = none).
	HostMTU uint
	// Backend is the backend attached to the NIC's hub. The zero value or
	// TypeNone gives an <interface type='none'>.
	Backend Backend
	// Datapath is the NIC's datapath; "" means the hub. A tap-datapath
	// NIC has no hub (Hub is ignored): it takes the first index no hub
	// NIC has, its default device id's index when that one is free.
	Datapath Datapath
	// Queues is a tap-datapath NIC's queue pairs: more than one gives
	// <driver queues='N'/>, one <driver name='vhost'/>.
	Queues int
}

// FromDevices rebuilds the <domain> named name whose NICs QEMU reports as
// devs: the inverse of [Domain.QEMUArgs] for what QEMU can report (model,
// MAC, device id, PCI slot on the root bus, boot order, ROM settings, MTU)
// plus the backend each Device names. machine ("q35", "pc", or "" when
// unknown) names the machine so PCI addresses can be emitted; with "" they
// are left out. devs may come in any order; their hubs must be 0…len-1, as
// QEMUArgs numbers them. The result is parsed back like any domain, so it
// passes the same checks; the link states in it are not QEMU's (QEMU cannot
// report them): each NIC with a backend reads as link up.
func FromDevices(name, machine string, devs []Device) (*Domain, error) {
	if name == "" {
		return nil, errors.New("domain: from devices: no domain name")
	}
	sorted, err := placeDevices(devs)
	if err != nil {
		return nil, err
	}
	x := &libvirtxml.Domain{Type: "qemu", Name: name}
	if machine != "" {
		x.OS = &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Type: "hvm", Machine: machine}}
	}
	d := &Domain{XML: x}
	for i, dev := range sorted {
		if dev.Hub != i {
			return nil, fmt.Errorf("domain: from devices: device %s is on hub %d, want hub %d: the NICs' hubs are not 0…%d", dev.ID, dev.Hub, i, len(sorted)-1)
		}
		n, err := nicFromDevice(dev, i, machine != "")
		if err != nil {
			return nil, fmt.Errorf("domain: from devices: device %s: %w", dev.ID, err)
		}
		d.NICs = append(d.NICs, n)
	}
	out, err := d.Marshal()
	if err != nil {
		return nil, err
	}
	back, err := ParseDomain(out, nil)
	if err != nil {
		return nil, fmt.Errorf("domain: from devices: %w", err)
	}
	return back, nil
}

// placeDevices orders devs by index: hub NICs at their hub id, tap NICs
// in the free indices (at their default id's index "net<i>" when free, the
// others by device id), each with Hub set to its index.
func placeDevices(devs []Device) ([]Device, error) {
	out := make([]Device, len(devs))
	used := make([]bool, len(devs))
	var taps []Device
	for _, d := range devs {
		if d.Datapath == DatapathTap {
			taps = append(taps, d)
			continue
		}
		if d.Hub < 0 || d.Hub >= len(devs) || used[d.Hub] {
			return nil, fmt.Errorf("domain: from devices: device %s is on hub %d: the NICs' hubs are not distinct in 0…%d", d.ID, d.Hub, len(devs)-1)
		}
		out[d.Hub], used[d.Hub] = d, true
	}
	slices.SortFunc(taps, func(a, b Device) int { return strings.Compare(a.ID, b.ID) })
	var rest []Device
	for _, d := range taps {
		var i int
		if _, err := fmt.Sscanf(d.ID, "net%d", &i); err == nil && fmt.Sprintf("net%d", i) == d.ID && i < len(devs) && !used[i] {
			d.Hub = i
			out[i], used[i] = d, true
			continue
		}
		rest = append(rest, d)
	}
	for i := range out {
		if !used[i] && len(rest) > 0 {
			rest[0].Hub = i
			out[i], used[i] = rest[0], true
			rest = rest[1:]
		}
	}
	return out, nil
}

// nicFromDevice builds the NIC (not yet validated) for dev at index i.
func nicFromDevice(dev Device, i int, withAddr bool) (*NIC, error) {
	model := ""
	for m, drv := range qemuModels {
		if drv == dev.Driver && (model == "" || m < model) {
			model = m
		}
	}
	if model == "" {
		return nil, fmt.Errorf("QEMU device type '%s' is not a NIC model nicplug knows", dev.Driver)
	}
	x := &libvirtxml.DomainInterface{
		MAC:   &libvirtxml.DomainInterfaceMAC{Address: dev.MAC},
		Model: &libvirtxml.DomainInterfaceModel{Type: model},
	}
	if dev.ID != fmt.Sprintf("net%d", i) {
		x.Alias = &libvirtxml.DomainAlias{Name: dev.ID}
	}
	if withAddr && dev.DevFn >= 0 {
		zero, slot, fn := uint(0), uint(dev.DevFn>>3), uint(dev.DevFn&7)
		pci := &libvirtxml.DomainAddressPCI{Domain: &zero, Bus: &zero, Slot: &slot, Function: &fn}
		if dev.Multifunction {
			pci.MultiFunction = "on"
		}
		x.Address = &libvirtxml.DomainAddress{PCI: pci}
	}
	if dev.BootIndex >= 0 {
		x.Boot = &libvirtxml.DomainDeviceBoot{Order: uint(dev.BootIndex)}
	}
	if dev.ROMBar == 0 || dev.ROMFile == "" {
		x.ROM = &libvirtxml.DomainROM{}
		if dev.ROMBar == 0 {
			x.ROM.Bar = "off"
		}
		if dev.ROMFile == "" {
			x.ROM.Enabled = "no"
		}
	}
	if dev.HostMTU > 0 {
		x.MTU = &libvirtxml.DomainInterfaceMTU{Size: dev.HostMTU}
	}
	if dev.Datapath == DatapathTap {
		if dev.Queues > 1 {
			x.Driver = &libvirtxml.DomainInterfaceDriver{Queues: uint(dev.Queues)}
		} else {
			x.Driver = &libvirtxml.DomainInterfaceDriver{Name: "vhost"}
		}
	}
	b := dev.Backend
	if b.Type == "" {
		b.Type = TypeNone
	}
	spelling, err := setSource(x, b)
	if err != nil {
		return nil, err
	}
	return &NIC{XML: x, Index: i, Spelling: spelling, backend: b}, nil
}

// setSource writes backend b into x (the inverse of parseBackend) and
// returns the type attribute.
func setSource(x *libvirtxml.DomainInterface, b Backend) (string, error) {
	src := &libvirtxml.DomainInterfaceSource{}
	local := func() *libvirtxml.DomainInterfaceSourceLocal {
		if b.LocalAddress == "" && b.LocalPort == 0 {
			return nil
		}
		return &libvirtxml.DomainInterfaceSourceLocal{Address: b.LocalAddress, Port: uint(b.LocalPort)}
	}
	switch b.Type {
	case TypeNone:
		return "none", nil
	case TypeUser:
		src.User = &libvirtxml.DomainInterfaceSourceUser{}
	case TypeDirect:
		src.Direct = &libvirtxml.DomainInterfaceSourceDirect{Dev: b.Dev, Mode: b.Mode}
	case TypeEthernet:
		src.Ethernet = &libvirtxml.DomainInterfaceSourceEthernet{}
		x.Target = &libvirtxml.DomainInterfaceTarget{Dev: b.Dev, Managed: "no"}
	case TypeBridge:
		src.Bridge = &libvirtxml.DomainInterfaceSourceBridge{Bridge: b.Bridge}
		if b.VLAN != 0 {
			x.VLan = &libvirtxml.DomainInterfaceVLan{Tags: []libvirtxml.DomainInterfaceVLanTag{{ID: uint(b.VLAN)}}}
		}
	case TypeServer:
		src.Server = &libvirtxml.DomainInterfaceSourceServer{Address: b.Address, Port: uint(b.Port)}
	case TypeClient:
		src.Client = &libvirtxml.DomainInterfaceSourceClient{Address: b.Address, Port: uint(b.Port)}
	case TypeMcast:
		src.MCast = &libvirtxml.DomainInterfaceSourceMCast{Address: b.Address, Port: uint(b.Port), Local: local()}
	case TypeUDP:
		src.UDP = &libvirtxml.DomainInterfaceSourceUDP{Address: b.Address, Port: uint(b.Port), Local: local()}
	default:
		return "", fmt.Errorf("backend type '%s' cannot be written as an <interface>", b.Type)
	}
	x.Source = src
	return string(b.Type), nil
}
