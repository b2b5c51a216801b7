package nicplug

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

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
	dom, err := liveDomain(ctx, mon, c.Host, name)
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
// (parent and mode, or bridge, read from the host). Other attached
// backends (ethernet, sockets) come back as type none; [VM.Interfaces]
// reports them as unknown. Link states are not QEMU's (it cannot report
// them). name is the domain name ("" asks QEMU, see [AttachRunning]); host
// may be nil when no host links are to be found. It changes nothing.
func LiveDomain(ctx context.Context, mon Monitor, host backend.Host, name string) (*domain.Domain, error) {
	return liveDomain(ctx, mon, host, name)
}

func liveDomain(ctx context.Context, mon Monitor, host backend.Host, name string) (*domain.Domain, error) {
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
	st, err := readWiring(ctx, mon, nil)
	if err != nil {
		return nil, err
	}
	var owned []backend.OwnedLink
	if host != nil {
		if owned, err = host.ListOwned(ctx, name); err != nil {
			return nil, fmt.Errorf("nicplug: read back: %w", err)
		}
	}
	machine := ""
	devs := make([]domain.Device, 0, len(st.NICs))
	for i := range st.NICs {
		ns := &st.NICs[i]
		dev, m, err := readDevice(ctx, mon, ns)
		if err != nil {
			return nil, err
		}
		if m != "" {
			machine = m
		}
		dev.Backend = recoverBackend(name, ns, owned)
		devs = append(devs, dev)
	}
	dom, err := domain.FromDevices(name, machine, devs)
	if err != nil {
		return nil, fmt.Errorf("nicplug: live domain: %w", err)
	}
	return dom, nil
}

// rootBuses maps the QOM path of a machine's root PCI bus to the machine
// type [domain.Domain.QEMUArgs] takes it from.
var rootBuses = map[string]string{
	"/machine/q35/pcie.0":   "q35",
	"/machine/i440fx/pci.0": "pc",
}

// readDevice reads the device properties of ns's NIC that a domain
// describes, and the machine type when the NIC sits on the root bus.
func readDevice(ctx context.Context, mon Monitor, ns *NICState) (domain.Device, string, error) {
	path := "/machine/peripheral/" + ns.Device
	var props []struct {
		Name string `json:"name"`
	}
	if err := call(ctx, mon, &props, "qom-list", backend.Object("path", path)); err != nil {
		return domain.Device{}, "", err
	}
	has := func(p string) bool {
		return slices.ContainsFunc(props, func(q struct {
			Name string `json:"name"`
		}) bool {
			return q.Name == p
		})
	}
	get := func(prop string, out any) error {
		if !has(prop) {
			return nil
		}
		return call(ctx, mon, out, "qom-get", backend.Object("path", path, "property", prop))
	}
	dev := domain.Device{ID: ns.Device, MAC: ns.MAC, Hub: ns.Hub, DevFn: -1, BootIndex: -1, ROMBar: 1}
	var bus string
	for _, g := range []struct {
		prop string
		out  any
	}{
		{"type", &dev.Driver}, {"parent_bus", &bus}, {"addr", &dev.DevFn},
		{"multifunction", &dev.Multifunction}, {"bootindex", &dev.BootIndex},
		{"rombar", &dev.ROMBar}, {"romfile", &dev.ROMFile}, {"host_mtu", &dev.HostMTU},
	} {
		if err := get(g.prop, g.out); err != nil {
			return domain.Device{}, "", err
		}
	}
	machine, root := rootBuses[bus]
	if !root {
		dev.DevFn = -1
	}
	return dev, machine, nil
}

// recoverBackend returns the spec of the backend attached to ns's hub when
// it can be rebuilt and its hash matches the one in its id; type none when
// nothing is attached or the spec cannot be recovered.
func recoverBackend(vm string, ns *NICState, owned []backend.OwnedLink) domain.Backend {
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
				cands = append(cands, domain.Backend{Type: domain.TypeBridge, Bridge: l.Master})
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
