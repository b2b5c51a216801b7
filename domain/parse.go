package domain

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"libvirt.org/go/libvirtxml"
)

// scanned is what the pre-scan learns about one <interface> element before
// libvirtxml decodes it: libvirtxml drops type attributes it does not know
// (such as 'none') and fails obscurely on a <source> it cannot place.
type scanned struct {
	typ       string
	hasType   bool
	hasSource bool
	// badPort is a port attribute of <source> or <source><local> that is
	// not a decimal number ("" if none).
	badPort string
	// dup is a child element libvirt takes once (the first) that occurs
	// more than once ("" if none): libvirtxml would merge them.
	dup  string
	seen map[string]bool
}

// singleChildren are the <interface> children libvirt reads once: a
// second one is refused rather than merged into the first (libvirtxml) or
// ignored (libvirt), which would plug the NIC into a network the XML does
// not plainly say.
var singleChildren = map[string]bool{
	"source": true, "mac": true, "model": true, "driver": true, "target": true, "alias": true,
	"link": true, "vlan": true, "mtu": true, "boot": true, "rom": true, "address": true,
	"virtualport": true, "bandwidth": true, "backend": true,
}

// scanInterfaces walks data with encoding/xml and returns, in document
// order, the <interface> elements at the given depth-path (e.g.
// ["domain","devices","interface"]) and the root element's name.
func scanInterfaces(data []byte, path []string) (root string, out []scanned, err error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("malformed XML: %w", clipErr(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				if root != "" {
					return "", nil, errors.New("malformed XML: more than one root element")
				}
				root = t.Name.Local
			}
			stack = append(stack, t.Name.Local)
			if matchPath(stack, path) {
				s := scanned{}
				for _, a := range t.Attr {
					// libvirtxml matches the local name only, whatever the
					// namespace: so must we, and refuse ambiguity.
					if a.Name.Local == "type" {
						if s.hasType {
							return "", nil, errors.New("an <interface> has more than one type attribute")
						}
						s.typ, s.hasType = a.Value, true
					}
				}
				out = append(out, s)
			}
			if len(stack) == len(path)+1 && matchPath(stack[:len(path)], path) {
				s := &out[len(out)-1]
				if t.Name.Local == "source" {
					s.hasSource = true
				}
				if singleChildren[t.Name.Local] {
					if s.seen[t.Name.Local] && s.dup == "" {
						s.dup = t.Name.Local
					}
					if s.seen == nil {
						s.seen = map[string]bool{}
					}
					s.seen[t.Name.Local] = true
				}
			}
			if inSource(stack, path) {
				for _, a := range t.Attr {
					if a.Name.Local == "port" && !isDecimal(a.Value) && out[len(out)-1].badPort == "" {
						out[len(out)-1].badPort = "<" + t.Name.Local + " port='" + clip(a.Value) + "'>"
					}
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if root == "" {
		return "", nil, errors.New("malformed XML: no root element")
	}
	return root, out, nil
}

// inSource reports whether the element on top of stack is an interface's
// <source> or its <local>.
func inSource(stack, path []string) bool {
	n := len(path)
	switch {
	case len(stack) == n+1:
		return stack[n] == "source" && matchPath(stack[:n], path)
	case len(stack) == n+2:
		return stack[n] == "source" && stack[n+1] == "local" && matchPath(stack[:n], path)
	}
	return false
}

// isDecimal reports whether s is 1 to 5 decimal digits: a port number
// libvirtxml can decode (the range is checked after decoding).
func isDecimal(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func matchPath(stack, path []string) bool {
	if len(stack) != len(path) {
		return false
	}
	for i := range path {
		if stack[i] != path[i] {
			return false
		}
	}
	return true
}

// ParseDomain parses a whole <domain> document. Every <interface> must be
// of a supported type (see [BackendType]), have a valid MAC, a supported
// model and a distinct device id. A nil opts means defaults.
func ParseDomain(data []byte, opts *ParseOptions) (*Domain, error) {
	if err := checkSize(data); err != nil {
		return nil, err
	}
	root, scans, err := scanInterfaces(data, []string{"domain", "devices", "interface"})
	if err != nil {
		return nil, fmt.Errorf("domain: %w", err)
	}
	if root != "domain" {
		return nil, fmt.Errorf("domain: root element is <%s>, want <domain>", clip(root))
	}
	if len(scans) > MaxNICs {
		return nil, fmt.Errorf("domain: %d <interface> elements, the limit is %d (the root PCI bus has 32 slots of 8 functions)", len(scans), MaxNICs)
	}
	for i, s := range scans {
		if err := checkScanned(s, fmt.Sprintf("net%d", i)); err != nil {
			return nil, err
		}
	}
	x := &libvirtxml.Domain{}
	if err := x.Unmarshal(string(data)); err != nil {
		return nil, fmt.Errorf("domain: parse <domain>: %w", clipErr(err))
	}
	if x.Name != "" {
		if err := CheckName(x.Name); err != nil {
			return nil, err
		}
	}
	var ifaces []libvirtxml.DomainInterface
	if x.Devices != nil {
		ifaces = x.Devices.Interfaces
	}
	if len(ifaces) != len(scans) {
		return nil, fmt.Errorf("domain: found %d <interface> elements but decoded %d", len(scans), len(ifaces))
	}
	d := &Domain{XML: x}
	ids := make(map[string]int)
	for i := range ifaces {
		n, err := newNIC(&ifaces[i], scans[i].typ, i, opts)
		if err != nil {
			return nil, err
		}
		if n.MAC() == "" {
			return nil, fmt.Errorf("domain: interface %s: <mac address=…/> is missing: nicplug needs a fixed MAC (libvirt would generate one; nicplug does not keep state to remember it)", n.DeviceID())
		}
		id := n.DeviceID()
		if j, dup := ids[id]; dup {
			return nil, fmt.Errorf("domain: interfaces %d and %d have the same device id %q", j, i, id)
		}
		ids[id] = i
		d.NICs = append(d.NICs, n)
	}
	return d, nil
}

// ParseInterface parses one <interface> element (an UpdateDevice fragment).
// The result has Index -1 until matched with [Domain.Find]. It needs a MAC
// or an alias to be matched; a missing MAC means "keep the old one".
func ParseInterface(data []byte, opts *ParseOptions) (*NIC, error) {
	if err := checkSize(data); err != nil {
		return nil, err
	}
	root, scans, err := scanInterfaces(data, []string{"interface"})
	if err != nil {
		return nil, fmt.Errorf("domain: %w", err)
	}
	if root != "interface" {
		return nil, fmt.Errorf("domain: root element is <%s>, want <interface>", clip(root))
	}
	if err := checkScanned(scans[0], ""); err != nil {
		return nil, err
	}
	x := &libvirtxml.DomainInterface{}
	if err := x.Unmarshal(string(data)); err != nil {
		return nil, fmt.Errorf("domain: parse <interface>: %w", clipErr(err))
	}
	n, err := newNIC(x, scans[0].typ, -1, opts)
	if err != nil {
		return nil, err
	}
	if n.MAC() == "" && (x.Alias == nil || x.Alias.Name == "") {
		return nil, errors.New("domain: interface has neither <mac address=…/> nor <alias name=…/>: nothing to match it with")
	}
	return n, nil
}

// label names an interface in error messages.
func label(dev string) string {
	if dev == "" {
		return "interface"
	}
	return "interface " + dev
}

// checkScanned refuses what the pre-scan already knows is wrong, before
// libvirtxml sees it (it would drop or misreport it).
func checkScanned(s scanned, dev string) error {
	if !s.hasType {
		return fmt.Errorf("domain: %s: the type attribute is missing", label(dev))
	}
	if reason, bad := unsupportedTypes[s.typ]; bad {
		return &TypeError{Device: dev, Type: s.typ, Reason: reason}
	}
	if _, ok := acceptedTypes[s.typ]; !ok {
		return &TypeError{Device: dev, Type: s.typ, Reason: "unknown interface type"}
	}
	if isNoneSpelling(s.typ) && s.hasSource {
		return fmt.Errorf("domain: %s: type '%s' takes no <source>", label(dev), s.typ)
	}
	if s.badPort != "" {
		return fmt.Errorf("domain: %s: %s: the port is not a number: want 1-65535", label(dev), s.badPort)
	}
	if s.dup != "" {
		return fmt.Errorf("domain: %s: more than one <%s> element: give one", label(dev), s.dup)
	}
	return nil
}

// acceptedTypes maps each accepted type attribute to its BackendType
// (network resolves through ParseOptions.Resolver).
var acceptedTypes = map[string]BackendType{
	"none":     TypeNone,
	"null":     TypeNone,
	"user":     TypeUser,
	"direct":   TypeDirect,
	"ethernet": TypeEthernet,
	"bridge":   TypeBridge,
	"server":   TypeServer,
	"client":   TypeClient,
	"mcast":    TypeMcast,
	"udp":      TypeUDP,
	"network":  "",
}

func isNoneSpelling(t string) bool { return t == "none" || t == "null" }
