package nicplug

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// readState reads the live wiring of dom's NICs from QEMU (qom-list,
// qom-get, info network, query-status) and from the host (links tagged
// with the VM's name).
func readState(ctx context.Context, mon Monitor, host backend.Host, vm string, dom *domain.Domain) (*State, error) {
	st := &State{VM: vm}
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
		if strings.HasPrefix(p.Type, "child<") {
			devices[p.Name] = true
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
	var owned []backend.OwnedLink
	if host != nil {
		if owned, err = host.ListOwned(ctx, vm); err != nil {
			return nil, fmt.Errorf("nicplug: read back: %w", err)
		}
	}
	for _, n := range dom.NICs {
		dev := n.DeviceID()
		if !devices[dev] {
			return nil, fmt.Errorf("nicplug: read back: NIC %s not found in QEMU (/machine/peripheral)", dev)
		}
		ns := NICState{Device: dev, Hub: -1}
		path := "/machine/peripheral/" + dev
		if err := call(ctx, mon, &ns.Peer, "qom-get", backend.Object("path", path, "property", "netdev")); err != nil {
			return nil, err
		}
		if err := call(ctx, mon, &ns.MAC, "qom-get", backend.Object("path", path, "property", "mac")); err != nil {
			return nil, err
		}
		if h, _, ok := ni.Port(domain.HubPortIDFor(dev)); ok {
			ns.Hub = h.ID
		}
		collect(&ns, ni)
		for _, l := range owned {
			if l.Owner.NIC == dev {
				ns.HostLinks = append(ns.HostLinks, l.Name)
			}
		}
		slices.Sort(ns.HostLinks)
		st.NICs = append(st.NICs, ns)
	}
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
	slices.SortFunc(ns.Backends, func(a, b BackendState) int {
		ia, _ := backend.ParseNetdevID(a.ID)
		ib, _ := backend.ParseNetdevID(b.ID)
		return cmp.Or(cmp.Compare(ib.Gen, ia.Gen), strings.Compare(a.ID, b.ID))
	})
	slices.Sort(ns.StrayPorts)
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
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("nicplug: read back: %s: %w", cmd, err)
	}
	return nil
}
