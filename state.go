package nicplug

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// ReadWiring reads back, without a domain, the live wiring of every NIC
// nicplug wired in the QEMU behind mon: each device peered with its own hub
// port "np.<id>.nic" (what [domain.Domain.QEMUArgs] emits), with its MAC,
// its hub, the backends of that NIC found in QEMU (parsed from their ids:
// attached to its hub, or standalone leftovers) and stray hub ports. NICs
// come sorted by device id. It uses qom-list, qom-get, query-status and
// `info network`, and changes nothing.
//
// The result has no VM name and no host links (finding those needs the
// VM's name, see [VM.State]), and no link states: QEMU 7.2 cannot report a
// NIC's link state (see [Interface.LinkUp]).
func ReadWiring(ctx context.Context, mon Monitor) (*State, error) {
	return readWiring(ctx, mon, nil, nil)
}

// readState reads the live wiring of dom's NICs from QEMU (see
// [ReadWiring]) and the host links tagged with the VM's name.
func readState(ctx context.Context, mon Monitor, host backend.Host, vm string, dom *domain.Domain) (*State, error) {
	devs := make([]string, len(dom.NICs))
	for i, n := range dom.NICs {
		devs[i] = n.DeviceID()
	}
	st, err := readWiring(ctx, mon, devs, nil)
	if err != nil {
		return nil, err
	}
	st.VM = vm
	if host == nil {
		return st, nil
	}
	if err := readHostLinks(ctx, host, st); err != nil {
		return nil, err
	}
	return st, nil
}

// readHostLinks fills in the host links of st's NICs, and what the fixed
// tap of each tap-datapath NIC is plugged into.
func readHostLinks(ctx context.Context, host backend.Host, st *State) error {
	owned, err := host.ListOwned(ctx, st.VM)
	if err != nil {
		return fmt.Errorf("nicplug: read back: %w", err)
	}
	for i := range st.NICs {
		ns := &st.NICs[i]
		ns.HostLinks = nil
		for _, l := range owned {
			if l.Owner.NIC == ns.Device {
				ns.HostLinks = append(ns.HostLinks, l.Name)
			}
		}
		slices.Sort(ns.HostLinks)
		if ns.Datapath == domain.DatapathTap {
			if ns.Tap, err = readTapOwned(ctx, host, st.VM, ns.Device, owned); err != nil {
				return err
			}
		}
	}
	return nil
}

// readWiring reads the NICs devs, in that order, or with devs nil every NIC
// peered with its own hub port, sorted by device id. A non-nil lr gets
// the QOM type of every device in /machine/peripheral and what `info
// network` says of every netdev.
func readWiring(ctx context.Context, mon Monitor, devs []string, lr *liveRead) (*State, error) {
	st := &State{}
	var status struct {
		Running bool `json:"running"`
	}
	if err := call(ctx, mon, &status, "query-status", nil); err != nil {
		return nil, err
	}
	st.Running = status.Running
	var props []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := call(ctx, mon, &props, "qom-list", backend.Object("path", "/machine/peripheral")); err != nil {
		return nil, err
	}
	devices := map[string]bool{}
	for _, p := range props {
		if t, ok := strings.CutPrefix(p.Type, "child<"); ok {
			devices[p.Name] = true
			if lr != nil {
				lr.types[p.Name] = strings.TrimSuffix(t, ">")
			}
		}
	}
	var text string
	if err := call(ctx, mon, &text, "human-monitor-command", backend.Object("command-line", "info network")); err != nil {
		return nil, err
	}
	ni, err := backend.ParseInfoNetwork(text)
	if err != nil {
		return nil, fmt.Errorf("nicplug: read back: %w", err)
	}
	if lr != nil {
		lr.readInfo(ni)
	}
	discover := devs == nil
	if discover {
		// Candidates: devices with a hub port named for them; qom-get
		// below keeps those actually peered with it.
		for _, h := range ni.Hubs {
			for _, p := range h.Ports {
				if id, err := backend.ParseNetdevID(p.Name); err == nil && id.Role == backend.RoleNICPort && devices[id.Device] {
					devs = append(devs, id.Device)
				}
			}
		}
		for _, c := range ni.Clients {
			if c.Type == "nic" && c.Peer != nil && c.Peer.Name == domain.TapNetdevIDFor(c.Name) && devices[c.Name] {
				devs = append(devs, c.Name)
			}
		}
		slices.Sort(devs)
		devs = slices.Compact(devs)
	}
	st.NICs = []NICState{}
	for _, dev := range devs {
		if !devices[dev] {
			return nil, fmt.Errorf("nicplug: read back: NIC %s not found in QEMU (/machine/peripheral)", dev)
		}
		ns := NICState{Device: dev, Hub: -1}
		path := "/machine/peripheral/" + dev
		if err := call(ctx, mon, &ns.Peer, "qom-get", backend.Object("path", path, "property", "netdev")); err != nil {
			var ce *qmp.CommandError
			if discover && errors.As(err, &ce) {
				continue // not a NIC
			}
			return nil, err
		}
		tap := ns.Peer == domain.TapNetdevIDFor(dev)
		if discover && ns.Peer != domain.HubPortIDFor(dev) && !tap {
			continue // not wired by nicplug
		}
		if err := call(ctx, mon, &ns.MAC, "qom-get", backend.Object("path", path, "property", "mac")); err != nil {
			return nil, err
		}
		ns.Datapath = domain.DatapathHub
		if tap {
			ns.Datapath = domain.DatapathTap
		}
		if h, _, ok := ni.Port(domain.HubPortIDFor(dev)); ok {
			ns.Hub = h.ID
		}
		collect(&ns, ni)
		if tap {
			for _, c := range ni.Clients {
				if c.Name == dev && c.Type == "nic" {
					ns.Queues = max(ns.Queues, c.Index+1)
				}
			}
		}
		st.NICs = append(st.NICs, ns)
	}
	st.Unmanaged = unmanaged(ni, st.NICs)
	return st, nil
}

// collect fills ns.Backends and ns.StrayPorts from info network.
func collect(ns *NICState, ni *backend.NetworkInfo) {
	mine := func(name string, role backend.Role) (backend.NetdevID, bool) {
		id, err := backend.ParseNetdevID(name)
		return id, err == nil && id.Device == ns.Device && id.Role == role
	}
	for _, h := range ni.Hubs {
		for _, p := range h.Ports {
			if _, ok := mine(p.Name, backend.RoleBackendPort); !ok {
				continue
			}
			if p.Peer == nil {
				ns.StrayPorts = append(ns.StrayPorts, p.Name)
				continue
			}
			if _, ok := mine(p.Peer.Name, backend.RoleBackend); !ok {
				ns.StrayPorts = append(ns.StrayPorts, p.Name)
				continue
			}
			bs := BackendState{ID: p.Peer.Name, Driver: p.Peer.Type, Port: p.Name}
			if h.ID != ns.Hub {
				// On another NIC's hub: both are leftovers.
				ns.StrayPorts = append(ns.StrayPorts, p.Name)
				bs.Port = ""
			}
			ns.Backends = append(ns.Backends, bs)
		}
	}
	for _, c := range ni.Clients {
		if _, ok := mine(c.Name, backend.RoleBackend); ok {
			ns.Backends = append(ns.Backends, BackendState{ID: c.Name, Driver: c.Type})
		}
	}
	sortNetdevs(ns)
}

// AsLive is the live state of a NIC that nicplug wired as w and that saw
// no other plan: w's backend, if any, attached as generation 1 (with the
// host link nicplug creates for it, named for VM vm). It is what
// [ReadWiring] and [VM.State] report for a NIC of a VM freshly started with
// [VM.Start], so that [Planner.Update] can plan without QEMU.
func AsLive(vm string, w Wiring) NICState {
	if w.Datapath == domain.DatapathTap {
		return asLiveTap(vm, w)
	}
	ns := NICState{Device: w.Device, MAC: w.MAC, Peer: domain.HubPortIDFor(w.Device), Hub: w.Hub, Datapath: domain.DatapathHub}
	if w.Backend.IsNone() {
		return ns
	}
	id := backend.BackendID(w.Device, 1, w.Backend)
	driver, _ := backend.Driver(w.Backend)
	ns.Backends = []BackendState{{ID: id.String(), Driver: driver, Port: id.Port().String()}}
	if need, _ := backend.Needs(w.Backend); need.Creates() {
		ns.HostLinks = []string{backend.LinkName(vm, w.Device, 1)}
	}
	return ns
}

// call runs a QMP command and decodes its result into out.
func call(ctx context.Context, mon Monitor, out any, cmd string, args json.RawMessage) error {
	var a any
	if args != nil {
		a = args
	}
	raw, err := mon.Execute(ctx, cmd, a)
	if err != nil {
		return fmt.Errorf("nicplug: read back: %w", err)
	}
	if err := qmp.DecodeReturn(cmd, raw, out); err != nil {
		return fmt.Errorf("nicplug: read back: %w", err)
	}
	return nil
}
