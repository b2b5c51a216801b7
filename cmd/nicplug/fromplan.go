package main

import (
	"bytes"
	"context"
	"encoding/xml"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

// planFrom computes, with the library's pure planner, the plan of the
// update in ifPath against oldPath (a <domain>, or one <interface> of a VM
// called name) taken as live (see nicplug.Planner.UpdateAsLive).
func planFrom(ctx context.Context, oldPath, ifPath, name string, pf *planFlags, opts *domain.ParseOptions) (*nicplug.Plan, error) {
	d, err := readOld(ctx, oldPath, name, opts)
	if err != nil {
		return nil, err
	}
	ifXML, err := readFile(ctx, ifPath)
	if err != nil {
		return nil, err
	}
	pl := nicplug.Planner{VM: d.XML.Name, CarrierHold: pf.carrierHold(), FixedHold: pf.fixedHold, Announce: pf.announce}
	p, err := pl.UpdateAsLive(d, ifXML, opts)
	if err != nil {
		return nil, inFile(ifPath, err)
	}
	return p, nil
}

// readOld reads a <domain>, or an <interface> made the only NIC of a
// domain called name.
func readOld(ctx context.Context, path, name string, opts *domain.ParseOptions) (*domain.Domain, error) {
	data, err := readFile(ctx, path)
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
		n, err := domain.ParseInterface(data, opts)
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
	d, err := domain.ParseDomain(data, opts)
	if err != nil {
		return nil, usageErrorf("%s: %w", path, err)
	}
	return d, nil
}
