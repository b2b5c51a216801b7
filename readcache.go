package nicplug

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// What a VM knows between plans.
//
// A full read-back ([readState]) costs query-status, qom-list, two qom-gets
// per NIC, `info network` and a netlink dump of the host links. Between two
// plans applied on one connection, most of it cannot change: a realized
// NIC keeps its device id, MAC and peer (QEMU cannot re-peer it), and the
// host links nicplug owns change only by nicplug's own plans. What can
// change is what sits on each NIC's hub, and `info network` alone lists
// that, together with every NIC's hub port, its peer and its MAC.
//
// So after a full read-back, and as long as every plan since was applied
// without error, an update is planned from `info network` alone, checked
// against what the VM knows (each NIC still peered with its hub port, same
// MAC) and completed with the host links as the applied plans left them.
// Anything unexpected, and any failed plan or read, falls back to the full
// read-back: attach, recovery after a crash and rollback are unchanged.

// remember records st, a full read-back, as what the VM knows.
func (v *VM) remember(st *State) { v.known = cloneState(st) }

// forget makes the next plan read everything back.
func (v *VM) forget() { v.known = nil }

// planState is the live state an update is planned from: quick when the
// VM knows its state (see above), else a full read-back, which it then
// remembers.
func (v *VM) planState(ctx context.Context) (*State, error) {
	if v.known != nil {
		st, ok, err := quickState(ctx, v.mon, v.exec.host, v.known)
		if err != nil {
			v.forget()
			return nil, err
		}
		if ok {
			return st, nil
		}
	}
	return v.readState(ctx)
}

// quickState reads `info network` and rebuilds the state of known's NICs
// from it. ok is false when QEMU does not match what known says of the
// NICs themselves (a NIC gone, re-peered or with another MAC): the caller
// reads everything back then.
//
// What a tap-datapath NIC's fixed tap is plugged into is read from the host
// again (a netlink dump and the tap's plumbing: no QMP).
func quickState(ctx context.Context, mon Monitor, host backend.Host, known *State) (_ *State, ok bool, _ error) {
	var text string
	if err := call(ctx, mon, &text, "human-monitor-command", backend.Object("command-line", "info network")); err != nil {
		return nil, false, err
	}
	ni, err := backend.ParseInfoNetwork(text)
	if err != nil {
		return nil, false, fmt.Errorf("nicplug: read back: %w", err)
	}
	st := &State{VM: known.VM, Running: known.Running, NICs: make([]NICState, 0, len(known.NICs)), Unmanaged: known.Unmanaged}
	taps := false
	for _, k := range known.NICs {
		if k.Datapath == domain.DatapathTap {
			if !tapPeered(ni, k) {
				return nil, false, nil
			}
			taps = true
			st.NICs = append(st.NICs, NICState{Device: k.Device, MAC: k.MAC, Peer: k.Peer, Hub: -1, Datapath: k.Datapath})
			continue
		}
		h, port, found := ni.Port(domain.HubPortIDFor(k.Device))
		if !found || k.Peer != port.Name || port.Peer == nil || port.Peer.Name != k.Device ||
			port.Peer.Type != "nic" || !hasMAC(port.Peer.Info, k.MAC) {
			return nil, false, nil
		}
		ns := NICState{Device: k.Device, MAC: k.MAC, Peer: k.Peer, Hub: h.ID, HostLinks: slices.Clone(k.HostLinks), Datapath: k.Datapath}
		collect(&ns, ni)
		st.NICs = append(st.NICs, ns)
	}
	if taps && host != nil {
		if err := readHostLinks(ctx, host, st); err != nil {
			return nil, false, err
		}
	}
	return st, true, nil
}

// tapPeered reports whether ni shows k's NIC, with its MAC, peered with its
// fixed tap.
func tapPeered(ni *backend.NetworkInfo, k NICState) bool {
	for _, c := range ni.Clients {
		if c.Name == k.Device && c.Type == "nic" && c.Index == 0 {
			return c.Peer != nil && c.Peer.Name == k.Peer && c.Peer.Type == "tap" && hasMAC(c.Info, k.MAC)
		}
	}
	return false
}

// hasMAC reports whether a NIC's `info network` line ("model=…,macaddr=…")
// names mac.
func hasMAC(info, mac string) bool {
	for _, f := range strings.Split(info, ",") {
		if v, ok := strings.CutPrefix(f, "macaddr="); ok {
			return strings.EqualFold(v, mac)
		}
	}
	return false
}

// applied updates what the VM knows with the effects of p, applied
// without error: host links created and deleted, and the VM resumed.
func (v *VM) applied(p *Plan) {
	if v.known == nil {
		return
	}
	for _, s := range p.Steps {
		a := s.Do
		switch {
		case a.Type == ActionQMP && a.Command == "cont":
			v.known.Running = true
		case a.Type == ActionHost && a.Op == OpDeleteLink:
			for i := range v.known.NICs {
				ns := &v.known.NICs[i]
				ns.HostLinks = slices.DeleteFunc(ns.HostLinks, func(l string) bool { return l == a.Link })
			}
		case a.Type == ActionHost && a.Owner != nil && (a.Op == OpCreateMacvtap || a.Op == OpCreateBridgeTap):
			ns, ok := v.known.NIC(a.Owner.NIC)
			if !ok {
				v.forget()
				return
			}
			if !slices.Contains(ns.HostLinks, a.Link) {
				ns.HostLinks = append(ns.HostLinks, a.Link)
				slices.Sort(ns.HostLinks)
			}
		}
	}
}

// cloneState returns a deep copy of st.
func cloneState(st *State) *State {
	c := &State{VM: st.VM, Running: st.Running, NICs: make([]NICState, len(st.NICs)), Unmanaged: slices.Clone(st.Unmanaged)}
	for i, ns := range st.NICs {
		ns.Backends = slices.Clone(ns.Backends)
		ns.StrayPorts = slices.Clone(ns.StrayPorts)
		ns.HostLinks = slices.Clone(ns.HostLinks)
		ns.Tap = ns.Tap.clone()
		c.NICs[i] = ns
	}
	return c
}
