package domain

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"

	"libvirt.org/go/libvirtxml"
)

// nicElement marshals a NIC's element with its type attribute restored:
// libvirtxml writes no type attribute when Source is nil (none/null).
type nicElement struct{ n *NIC }

func (e nicElement) MarshalXML(enc *xml.Encoder, start xml.StartElement) error {
	x, err := e.n.element()
	if err != nil {
		return err
	}
	if isNoneSpelling(e.n.Spelling) {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "type"}, Value: e.n.Spelling})
	}
	return x.MarshalXML(enc, start)
}

// element returns a shallow copy of the NIC's element ready for
// libvirtxml: for none/null its Source is nil (libvirtxml then writes no
// type attribute, and the caller adds it); for other types Source must be
// set, as libvirtxml derives the type attribute from it.
func (n *NIC) element() (*libvirtxml.DomainInterface, error) {
	x := *n.XML
	if isNoneSpelling(n.Spelling) {
		x.Source = nil
	} else if x.Source == nil {
		return nil, fmt.Errorf("interface of type '%s' has no Source: libvirtxml would lose its type", n.Spelling)
	}
	return &x, nil
}

// Marshal renders the NIC's <interface> element, type none/null included
// with the spelling it was parsed with.
func (n *NIC) Marshal() ([]byte, error) {
	if n == nil || n.XML == nil {
		return nil, fmt.Errorf("domain: marshal: NIC has no XML")
	}
	out, err := xml.MarshalIndent(nicElement{n}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("domain: marshal <interface>: %w", err)
	}
	return out, nil
}

// Marshal renders the whole <domain> with the interfaces of d.NICs (in
// that order), type none/null included with their parsed spelling.
func (d *Domain) Marshal() ([]byte, error) {
	if d == nil || d.XML == nil {
		return nil, fmt.Errorf("domain: marshal: Domain has no XML")
	}
	x := *d.XML
	var devs libvirtxml.DomainDeviceList
	if x.Devices != nil {
		devs = *x.Devices
	}
	devs.Interfaces = make([]libvirtxml.DomainInterface, len(d.NICs))
	for i, n := range d.NICs {
		x, err := n.element()
		if err != nil {
			return nil, fmt.Errorf("domain: marshal <domain>: %s: %w", n.DeviceID(), err)
		}
		devs.Interfaces[i] = *x
	}
	if x.Devices != nil || len(d.NICs) > 0 {
		x.Devices = &devs
	}
	s, err := x.Marshal()
	if err != nil {
		return nil, fmt.Errorf("domain: marshal <domain>: %w", err)
	}
	out, err := d.restoreTypes([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("domain: marshal <domain>: %w", err)
	}
	return out, nil
}

// restoreTypes inserts the type attribute into the start tags of the
// <interface> elements libvirtxml wrote without one. It locates them with
// encoding/xml's input offsets, so the rest of the output stays byte for
// byte as libvirtxml wrote it.
func (d *Domain) restoreTypes(out []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(out))
	var stack []string
	var res bytes.Buffer
	copied := 0
	k := 0
	path := []string{"domain", "devices", "interface"}
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			if !matchPath(stack, path) {
				continue
			}
			if k >= len(d.NICs) {
				return nil, fmt.Errorf("more <interface> elements than NICs")
			}
			n := d.NICs[k]
			k++
			if !isNoneSpelling(n.Spelling) {
				continue
			}
			end := int(dec.InputOffset())
			i := bytes.LastIndex(out[before:end], []byte("<interface"))
			if i < 0 {
				return nil, fmt.Errorf("cannot locate <interface> start tag")
			}
			at := before + i + len("<interface")
			res.Write(out[copied:at])
			fmt.Fprintf(&res, ` type="%s"`, n.Spelling) // none or null
			copied = at
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if k != len(d.NICs) {
		return nil, fmt.Errorf("wrote %d <interface> elements for %d NICs", k, len(d.NICs))
	}
	res.Write(out[copied:])
	return res.Bytes(), nil
}
