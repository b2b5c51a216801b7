package main

import (
	"bytes"
	"encoding/xml"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// planFrom computes, with the pure Planner, the plan of the update in
// ifPath against oldPath (a <domain>, or one <interface> of a VM called
// name) taken as live: each NIC's configured backend attached as
// generation 1, links as configured.
func planFrom(oldPath, ifPath, name string, pf *planFlags) (*nicplug.Plan, error) {
	d, err := readOld(oldPath, name)
	if err != nil {
		return nil, err
	}
	upd, _, err := readInterface(ifPath)
	if err != nil {
		return nil, err
	}
	next, err := d.WithUpdate(upd)
	if err != nil {
		return nil, usageErrorf("%s: %w", ifPath, err)
	}
	old, err := d.Find(upd)
	if err != nil {
		return nil, usageErrorf("%s: %w", ifPath, err)
	}
	cur := nicplug.WiringOf(old)
	want := nicplug.WiringOf(next.NICs[old.Index])
	pl := nicplug.Planner{VM: d.XML.Name, CarrierHold: pf.hold, Announce: pf.announce}
	p, err := pl.Update(liveAs(d.XML.Name, cur), cur, want)
	if err != nil {
		return nil, usageErrorf("%s: %w", ifPath, err)
	}
	return p, nil
}

// readOld reads a <domain>, or an <interface> made the only NIC of a
// domain called name.
func readOld(path, name string) (*domain.Domain, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	root, err := rootElement(data)
	if err != nil {
		return nil, usageErrorf("%s: %w", path, err)
	}
	switch root {
	case "domain":
	case "interface":
		n, err := domain.ParseInterface(data, nil)
		if err != nil {
			return nil, usageErrorf("%s: %w", path, err)
		}
		el, err := n.Marshal()
		if err != nil {
			return nil, usageErrorf("%s: %w", path, err)
		}
		var b bytes.Buffer
		b.WriteString("<domain type='qemu'><name>")
		if err := xml.EscapeText(&b, []byte(name)); err != nil {
			return nil, usageErrorf("--name: %w", err)
		}
		b.WriteString("</name><devices>")
		b.Write(el)
		b.WriteString("</devices></domain>")
		data = b.Bytes()
	default:
		return nil, usageErrorf("%s: root element is <%s>, want <domain> or <interface>", path, root)
	}
	d, err := domain.ParseDomain(data, nil)
	if err != nil {
		return nil, usageErrorf("%s: %w", path, err)
	}
	return d, nil
}

// liveAs is the live state of a NIC wired as w by nicplug: its backend,
// if any, attached as generation 1 (with its host link when nicplug
// creates one).
func liveAs(vm string, w nicplug.Wiring) nicplug.NICState {
	ns := nicplug.NICState{Device: w.Device, MAC: w.MAC, Peer: domain.HubPortIDFor(w.Device), Hub: w.Hub}
	if w.Backend.IsNone() {
		return ns
	}
	id := backend.BackendID(w.Device, 1, w.Backend)
	need, _ := backend.Needs(w.Backend)
	ns.Backends = []nicplug.BackendState{{ID: id.String(), Driver: qemuDriver(w.Backend, need), Port: id.Port().String()}}
	if need.Creates() {
		ns.HostLinks = []string{backend.LinkName(vm, w.Device, 1)}
	}
	return ns
}

// qemuDriver is QEMU's client type for a backend, as `info network` shows
// it.
func qemuDriver(b domain.Backend, need backend.HostNeed) string {
	switch {
	case b.Type == domain.TypeUser:
		return "user"
	case need.PassesFD():
		return "tap"
	default:
		return "socket"
	}
}
