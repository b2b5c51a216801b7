package domain

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// defaultModel is libvirt's default NIC model on x86 when <model> is absent.
const defaultModel = "rtl8139"

// qemuModels maps libvirt model names to QEMU device drivers. All are PCI
// devices present in QEMU 7.2's x86 build (igb needs QEMU ≥ 8.0).
var qemuModels = map[string]string{
	"virtio":                  "virtio-net-pci",
	"virtio-transitional":     "virtio-net-pci-transitional",
	"virtio-non-transitional": "virtio-net-pci-non-transitional",
	"e1000":                   "e1000",
	"e1000-82544gc":           "e1000-82544gc",
	"e1000-82545em":           "e1000-82545em",
	"e1000e":                  "e1000e",
	"igb":                     "igb",
	"rtl8139":                 "rtl8139",
	"ne2k_pci":                "ne2k_pci",
	"pcnet":                   "pcnet",
	"vmxnet3":                 "vmxnet3",
	"tulip":                   "tulip",
	"i82550":                  "i82550",
	"i82551":                  "i82551",
	"i82557a":                 "i82557a",
	"i82557b":                 "i82557b",
	"i82557c":                 "i82557c",
	"i82558a":                 "i82558a",
	"i82558b":                 "i82558b",
	"i82559a":                 "i82559a",
	"i82559b":                 "i82559b",
	"i82559c":                 "i82559c",
	"i82559er":                "i82559er",
	"i82562":                  "i82562",
	"i82801":                  "i82801",
}

func isVirtio(model string) bool { return strings.HasPrefix(model, "virtio") }

// MAC is the NIC's MAC address in canonical lowercase form, "" when the
// element has none (possible only for a standalone update).
func (n *NIC) MAC() string {
	if n.XML == nil || n.XML.MAC == nil {
		return ""
	}
	m, err := parseMAC(n.XML.MAC.Address)
	if err != nil {
		return ""
	}
	return m
}

// Model is the libvirt model name ("virtio", "e1000", …); "rtl8139",
// libvirt's x86 default, when <model> is absent.
func (n *NIC) Model() string {
	if n.XML == nil || n.XML.Model == nil || n.XML.Model.Type == "" {
		return defaultModel
	}
	return n.XML.Model.Type
}

// QEMUModel is the QEMU device driver ("virtio-net-pci", "e1000", …), ""
// for a model nicplug does not know (parsing refuses those).
func (n *NIC) QEMUModel() string { return qemuModels[n.Model()] }

// LinkUp is the effective link state: false for type none/null and for
// <link state='down'/>.
func (n *NIC) LinkUp() bool {
	if n.backend.IsNone() {
		return false
	}
	return n.XML == nil || n.XML.Link == nil || n.XML.Link.State != "down"
}

// allowedFields are the <interface> children and attributes nicplug
// understands; anything else set in the XML is refused rather than ignored.
var allowedFields = map[string]bool{
	"XMLName": true, "MAC": true, "Source": true, "Boot": true,
	"Target": true, "Model": true, "Driver": true, "Link": true,
	"MTU": true, "ROM": true, "Alias": true, "Address": true, "VLan": true,
}

// unsupportedField names the first non-zero field of v (a struct) not in
// allowed, spelled as in XML ("<filterref>", "attribute managed").
func unsupportedField(v reflect.Value, allowed map[string]bool) string {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if allowed[f.Name] || v.Field(i).IsZero() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("xml"), ",")
		if strings.Contains(f.Tag.Get("xml"), ",attr") {
			return "attribute " + tag
		}
		if tag == "" || tag == "-" {
			tag = strings.ToLower(f.Name)
		}
		return "<" + tag + ">"
	}
	return ""
}

// newNIC validates x (whose type attribute is typ) and builds its NIC.
func newNIC(x *libvirtxml.DomainInterface, typ string, index int, opts *ParseOptions) (*NIC, error) {
	n := &NIC{XML: x, Index: index, Spelling: typ}
	dev := ""
	if index >= 0 {
		dev = fmt.Sprintf("net%d", index)
	}
	if x.Alias != nil {
		if err := checkDeviceID(x.Alias.Name); err != nil {
			return nil, fmt.Errorf("domain: %s: %w", label(dev), err)
		}
		dev = x.Alias.Name
	}
	fail := func(err error) (*NIC, error) {
		return nil, fmt.Errorf("domain: %s: %w", label(dev), err)
	}
	if got := sourceType(x.Source); got != typ && !(isNoneSpelling(typ) && (got == "" || got == "null")) {
		return fail(fmt.Errorf("type '%s' decoded as '%s'", clip(typ), clip(got)))
	}
	if isNoneSpelling(typ) {
		x.Source = nil // libvirtxml's Null source would print an empty <source/>
	}
	if f := unsupportedField(reflect.ValueOf(*x), allowedFields); f != "" {
		return fail(fmt.Errorf("%s is not supported by nicplug", f))
	}
	if err := checkDevice(x, typ); err != nil {
		return fail(err)
	}
	b, err := parseBackend(typ, x, opts)
	if err != nil {
		return fail(err)
	}
	if b, err = withVLAN(b, x.VLan); err != nil {
		return fail(err)
	}
	if err := checkDatapath(n.Datapath(), b); err != nil {
		if dev == "" && x.MAC != nil {
			// A standalone update: name the NIC by its MAC.
			return nil, fmt.Errorf("domain: interface %s: %w", clip(x.MAC.Address), err)
		}
		return fail(err)
	}
	n.backend = b
	return n, nil
}

// checkDevice validates the guest-side properties.
func checkDevice(x *libvirtxml.DomainInterface, typ string) error {
	if x.MAC != nil {
		if _, err := parseMAC(x.MAC.Address); err != nil {
			return err
		}
	}
	model := defaultModel
	if x.Model != nil {
		model = x.Model.Type
	}
	if _, ok := qemuModels[model]; !ok {
		return fmt.Errorf("model type '%s' is not supported (known: virtio, e1000, e1000e, rtl8139, …)", clip(model))
	}
	if x.Link != nil && x.Link.State != "up" && x.Link.State != "down" {
		return fmt.Errorf("link state '%s' is invalid: want up or down", clip(x.Link.State))
	}
	if d := x.Driver; d != nil {
		if f := unsupportedField(reflect.ValueOf(*d), map[string]bool{"Name": true, "Queues": true}); f != "" {
			return fmt.Errorf("<driver> %s is not supported by nicplug", f)
		}
		if err := checkDriver(d.Name, d.Queues, model); err != nil {
			return err
		}
	}
	if x.MTU != nil {
		if !isVirtio(model) {
			return fmt.Errorf("<mtu> needs a virtio model, not '%s'", clip(model))
		}
		if x.MTU.Size < 68 || x.MTU.Size > 65535 {
			return fmt.Errorf("mtu size %d is out of range 68-65535", x.MTU.Size)
		}
	}
	if r := x.ROM; r != nil {
		if r.File != nil {
			return errors.New("<rom file=…> is not supported: nicplug passes no host paths to QEMU")
		}
		if r.Bar != "" && r.Bar != "on" && r.Bar != "off" {
			return fmt.Errorf("rom bar '%s' is invalid: want on or off", clip(r.Bar))
		}
		if r.Enabled != "" && r.Enabled != "yes" && r.Enabled != "no" {
			return fmt.Errorf("rom enabled '%s' is invalid: want yes or no", clip(r.Enabled))
		}
	}
	if x.Boot != nil {
		if x.Boot.LoadParm != "" {
			return errors.New("boot loadparm is not supported (s390 only)")
		}
		if x.Boot.Order == 0 || x.Boot.Order > 1<<20 {
			return fmt.Errorf("boot order %d is out of range 1-%d", x.Boot.Order, 1<<20)
		}
	}
	if x.Address != nil {
		if _, err := pciAddress(x.Address); err != nil {
			return err
		}
	}
	if t := x.Target; t != nil {
		if err := checkIfname("target dev", t.Dev); err != nil {
			return err
		}
		switch {
		case typ == "ethernet" && t.Managed != "no":
			return fmt.Errorf("type ethernet needs <target dev='%s' managed='no'/>: nicplug only uses an existing tap", clip(t.Dev))
		case typ != "ethernet" && t.Managed != "":
			return errors.New("target managed=… applies to type ethernet only")
		}
	}
	return nil
}

// pciAddr is a validated guest PCI address.
type pciAddr struct {
	domain, bus, slot, function uint
	multifunction               string
}

func pciAddress(a *libvirtxml.DomainAddress) (pciAddr, error) {
	if a.PCI == nil || unsupportedField(reflect.ValueOf(*a), map[string]bool{"PCI": true}) != "" {
		return pciAddr{}, errors.New("only <address type='pci' …/> is supported")
	}
	p := a.PCI
	if p.ZPCI != nil {
		return pciAddr{}, errors.New("<zpci> addresses are not supported")
	}
	get := func(v *uint) uint {
		if v == nil {
			return 0
		}
		return *v
	}
	r := pciAddr{get(p.Domain), get(p.Bus), get(p.Slot), get(p.Function), p.MultiFunction}
	switch {
	case p.Slot == nil:
		return r, errors.New("pci address has no slot")
	case r.domain > 0xffff || r.bus > 0xff:
		return r, fmt.Errorf("pci address %04x:%02x is out of range", r.domain, r.bus)
	case r.slot > 31:
		return r, fmt.Errorf("pci address slot %#x is out of range 0-0x1f", r.slot)
	case r.function > 7:
		return r, fmt.Errorf("pci address function %#x is out of range 0-7", r.function)
	case r.multifunction != "" && r.multifunction != "on" && r.multifunction != "off":
		return r, fmt.Errorf("pci address multifunction '%s' is invalid: want on or off", clip(r.multifunction))
	}
	return r, nil
}

func (a pciAddr) String() string {
	return fmt.Sprintf("%04x:%02x:%02x.%x", a.domain, a.bus, a.slot, a.function)
}

// sourceType is the type attribute libvirtxml derives from s on output, ""
// for none.
func sourceType(s *libvirtxml.DomainInterfaceSource) string {
	if s == nil {
		return ""
	}
	v := reflect.ValueOf(*s)
	for i := 0; i < v.NumField(); i++ {
		if !v.Field(i).IsNil() {
			return sourceTypeNames[v.Type().Field(i).Name]
		}
	}
	return ""
}

// sourceTypeNames maps DomainInterfaceSource fields to type attributes.
var sourceTypeNames = map[string]string{
	"User": "user", "Ethernet": "ethernet", "VHostUser": "vhostuser",
	"Server": "server", "Client": "client", "MCast": "mcast",
	"Network": "network", "Bridge": "bridge", "Internal": "internal",
	"Direct": "direct", "Hostdev": "hostdev", "UDP": "udp", "VDPA": "vdpa",
	"Null": "null", "VDS": "vds",
}
