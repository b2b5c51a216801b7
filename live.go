package nicplug

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// AttachRunning connects to the QMP socket of a QEMU whose NICs nicplug
// wired, when the domain XML it was started from is not at hand (an
// operator's shell, a controller restarted without its records): the
// domain is rebuilt from QEMU and the host with [LiveDomain]. name is the
// domain name, which names and finds the host links nicplug created; ""
// asks QEMU (query-name, set by QEMU's -name) and is an error wrapping
// [ErrBadInput] when QEMU has none.
//
// Updates are checked against what QEMU reports (model, MAC, PCI slot,
// boot order, ROM, MTU), as libvirt checks them against its live XML. Link
// states are unknown (QEMU cannot report them): until nicplug sets a NIC's
// link, each plan for it sets the link explicitly, so an update that
// changes nothing else is a one-step "link" plan rather than a no-op.
func AttachRunning(ctx context.Context, qmpSocket, name string, cfg *Config) (*VM, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if name != "" {
		if err := domain.CheckName(name); err != nil {
			return nil, badInput("attach", err)
		}
	}
	if c.Host == nil {
		c.Host = backend.NewNetifHost(c.Netns)
	}
	mon, err := qmp.Dial(ctx, qmpSocket, c.QMP)
	if err != nil {
		return nil, fmt.Errorf("nicplug: attach: %w", err)
	}
	v, err := attachRunning(ctx, mon, mon, name, &c)
	if err != nil {
		mon.Close()
		return nil, err
	}
	return v, nil
}

// attachRunning makes a VM around mon from its live domain.
func attachRunning(ctx context.Context, mon Monitor, closer io.Closer, name string, c *Config) (*VM, error) {
	dom, err := LiveDomain(ctx, mon, c.Host, name)
	if err != nil {
		return nil, err
	}
	v, err := newVM(mon, closer, dom, c)
	if err != nil {
		return nil, err
	}
	for _, n := range dom.NICs {
		v.linkUnknown[n.DeviceID()] = true
	}
	return v, nil
}

// LiveDomain rebuilds the domain of the QEMU behind mon from what QEMU and
// host report, for a VM whose NICs nicplug wired (see [ReadWiring]): each
// NIC's model, MAC, device id, PCI slot on the root bus, boot order, ROM
// settings and MTU (qom-get), and the backend attached to its hub when its
// spec can be recovered and checked against the hash in its netdev id:
// user; direct and bridge from the host link nicplug created for it
// (parent and mode, or bridge, read from the host); on the tap datapath,
// its queue count and what the host shows its fixed tap plugged into
// (a NIC with one queue reads as <driver name='vhost'/>, the only
// single-queue spelling of the tap datapath). Other attached
// backends (ethernet, sockets) come back as type none; [VM.Interfaces]
// reports them as unknown. Link states are not QEMU's (it cannot report
// them). name is the domain name ("" asks QEMU, see [AttachRunning]); host
// may be nil when no host links are to be found. It changes nothing.
func LiveDomain(ctx context.Context, mon Monitor, host backend.Host, name string) (*domain.Domain, error) {
	if name == "" {
		var qn struct {
			Name string `json:"name"`
		}
		if err := call(ctx, mon, &qn, "query-name", nil); err != nil {
			return nil, err
		}
		if qn.Name == "" {
			return nil, badInput("attach", errors.New("the VM has no name: QEMU was started without -name and none was given"))
		}
		name = qn.Name
	}
	if err := domain.CheckName(name); err != nil {
		return nil, badInput("attach", err)
	}
	lr := newLiveRead()
	st, err := readWiring(ctx, mon, nil, lr)
	if err != nil {
		return nil, err
	}
	var owned []backend.OwnedLink
	if host != nil {
		if owned, err = host.ListOwned(ctx, name); err != nil {
			return nil, fmt.Errorf("nicplug: read back: %w", err)
		}
	}
	machine, slots, err := readPCI(ctx, mon)
	if err != nil {
		return nil, err
	}
	devs := make([]domain.Device, 0, len(st.NICs))
	for i := range st.NICs {
		ns := &st.NICs[i]
		dev, err := readDevice(ctx, mon, ns, lr.types[ns.Device])
		if err != nil {
			return nil, err
		}
		if devfn, ok := slots[ns.Device]; ok {
			dev.DevFn = devfn
		}
		if ns.Datapath == domain.DatapathTap {
			dev.Datapath, dev.Queues = domain.DatapathTap, ns.Queues
			if host != nil {
				t, err := readTapOwned(ctx, host, name, ns.Device, owned)
				if err != nil {
					return nil, err
				}
				if b, ok := t.Backend(); ok {
					dev.Backend = b
				}
			}
			devs = append(devs, dev)
			continue
		}
		vlans, err := bridgeTapVLANs(ctx, host, ns.Device, owned)
		if err != nil {
			return nil, err
		}
		dev.Backend = recoverBackend(name, ns, owned, lr.info, vlans)
		devs = append(devs, dev)
	}
	dom, err := domain.FromDevices(name, machine, devs)
	if err != nil {
		return nil, fmt.Errorf("nicplug: live domain: %w", err)
	}
	return dom, nil
}

// readPCI returns the machine type as [domain.Domain.QEMUArgs] names it
// ("q35", "pc", or "" for others) and the devfn of each device on the
// machine's root PCI bus, by device id (query-pci lists root-bus devices
// at its top level; devices behind bridges are nested and, before the
// firmware numbers the buses, not even listed).
func readPCI(ctx context.Context, mon Monitor) (string, map[string]int, error) {
	var mtype string
	if err := call(ctx, mon, &mtype, "qom-get", backend.Object("path", "/machine", "property", "type")); err != nil {
		return "", nil, err
	}
	machine := ""
	switch {
	case strings.Contains(mtype, "q35"):
		machine = "q35"
	case strings.Contains(mtype, "i440fx"):
		machine = "pc"
	}
	var buses []struct {
		Devices []struct {
			Slot     int    `json:"slot"`
			Function int    `json:"function"`
			QdevID   string `json:"qdev_id"`
		} `json:"devices"`
	}
	if err := call(ctx, mon, &buses, "query-pci", nil); err != nil {
		return "", nil, err
	}
	slots := map[string]int{}
	if len(buses) > 0 {
		for _, d := range buses[0].Devices {
			if d.QdevID != "" {
				slots[d.QdevID] = d.Slot<<3 | d.Function
			}
		}
	}
	return machine, slots, nil
}

// readDevice reads the properties of ns's NIC, of QOM type typ, that a
// domain describes besides its PCI address: one qom-get each (QEMU 7.2
// has no call that reads several). Numbers are read whatever their JSON
// type or sign, because QEMU changes property types between versions
// (rombar: uint32 defaulting to 1 on 7.2, int32 defaulting to -1 on 10.0).
func readDevice(ctx context.Context, mon Monitor, ns *NICState, typ string) (domain.Device, error) {
	path := "/machine/peripheral/" + ns.Device
	dev := domain.Device{ID: ns.Device, Driver: typ, MAC: ns.MAC, Hub: ns.Hub, DevFn: -1}
	var bootIndex, romBar, hostMTU qomInt
	type field struct {
		prop string
		out  any
	}
	fields := []field{{"multifunction", &dev.Multifunction}, {"bootindex", &bootIndex},
		{"rombar", &romBar}, {"romfile", &dev.ROMFile}}
	if strings.HasPrefix(typ, "virtio-net-") {
		fields = append(fields, field{"host_mtu", &hostMTU})
	}
	for _, f := range fields {
		if err := call(ctx, mon, f.out, "qom-get", backend.Object("path", path, "property", f.prop)); err != nil {
			return domain.Device{}, err
		}
	}
	if hostMTU < 0 {
		return domain.Device{}, fmt.Errorf("nicplug: read back: %s host_mtu %d", ns.Device, hostMTU)
	}
	dev.BootIndex, dev.ROMBar, dev.HostMTU = int(bootIndex), int(romBar), uint(hostMTU)
	return dev, nil
}

// qomInt decodes a QOM integer property of any width and sign, as
// qom-get returns it.
type qomInt int64

// UnmarshalJSON accepts any JSON integer that fits in an int64.
func (q *qomInt) UnmarshalJSON(b []byte) error {
	var n json.Number
	if len(b) == 0 || b[0] == '"' || json.Unmarshal(b, &n) != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	v, err := n.Int64()
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*q = qomInt(v)
	return nil
}

// recoverBackend returns the spec of the backend attached to ns's hub when
// it can be rebuilt (from the host's links and vlans, the access VLAN of
// each bridge tap, or from info, what `info network` says of each
// netdev) and its hash matches the one in its id;
// type none when nothing is attached or the spec cannot be recovered.
func recoverBackend(vm string, ns *NICState, owned []backend.OwnedLink, info map[string]string, vlans map[string]int) domain.Backend {
	none := domain.Backend{Type: domain.TypeNone}
	att, ok := ns.Attached()
	if !ok {
		return none
	}
	id, err := backend.ParseNetdevID(att.ID)
	if err != nil {
		return none
	}
	var cands []domain.Backend
	switch att.Driver {
	case "user":
		cands = append(cands, domain.Backend{Type: domain.TypeUser})
	case "socket":
		cands = socketSpecs(info[att.ID])
	case "tap":
		name := backend.LinkName(vm, ns.Device, id.Gen)
		for _, l := range owned {
			if l.Name != name || l.Owner.NIC != ns.Device {
				continue
			}
			switch {
			case l.Kind == "macvtap":
				for _, mode := range []string{"bridge", "vepa", "private", "passthrough"} {
					cands = append(cands, domain.Backend{Type: domain.TypeDirect, Dev: l.Parent, Mode: mode})
				}
			case l.Master != "":
				cands = append(cands, domain.Backend{Type: domain.TypeBridge, Bridge: l.Master, VLAN: vlans[l.Name]})
			}
		}
	}
	for _, c := range cands {
		if backend.SpecHash(c) == id.Hash {
			return c
		}
	}
	return none
}

// bridgeTapVLANs reads the access VLAN of each bridge tap of NIC dev
// among owned (the hub datapath's bridge backends), by link name; none
// when host cannot read taps' plumbing.
func bridgeTapVLANs(ctx context.Context, host backend.Host, dev string, owned []backend.OwnedLink) (map[string]int, error) {
	th, ok := host.(backend.TapHost)
	if !ok {
		return nil, nil
	}
	vlans := map[string]int{}
	for _, l := range owned {
		if l.Owner.NIC != dev || l.Kind != "tap" || l.Master == "" {
			continue
		}
		p, err := th.TapPlug(ctx, l.Name)
		if errors.Is(err, os.ErrNotExist) {
			continue // gone since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("nicplug: read back: %w", err)
		}
		vlans[l.Name] = p.VLAN
	}
	return vlans, nil
}
