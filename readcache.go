package nicplug

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// What a VM knows between plans.
//
// A full read-back ([readState]) costs query-status, qom-list, two qom-gets
// per NIC, `info network` and a netlink dump of the host links. Between two
// plans applied on one connection, most of it cannot change: a realized
// NIC keeps its device id, MAC and peer (QEMU cannot re-peer it), and the
// host links nicplug owns are created only by nicplug's own plans (though
// anyone may delete them, which a netlink dump sees). What can
// change is what sits on each NIC's hub, and `info network` alone lists
// that, together with every NIC's hub port, its peer and its MAC.
//
// So after a full read-back, and as long as every plan since was applied
// without error, the VM keeps what it knows current (the effects of each
// applied plan, knownstate.go) and plans an update from it without asking
// QEMU; the host links of a VM with a tap-datapath NIC, or with a NIC
// that owns host links (a macvtap, a bridge tap), are read from the host
// again (a netlink dump: no QMP), since anyone may delete them. The plan is checked before any of its steps
// runs: PlanUpdate sends `info network` to QEMU first, without waiting for
// it, and Apply queues the plan's first QMP command behind it (QEMU runs a
// monitor's commands in order) and only then collects the reply. QEMU
// reads the check while nicplug plans, and no round trip is spent on the
// check alone. The check shows QEMU as PlanUpdate found it, as the
// read-back a plan was computed from always did: what another client
// changes between PlanUpdate and Apply is seen by the next plan. If QEMU
// does not show what the VM knows — another client changed a netdev — the first
// command is undone, nothing else runs, and the plan fails with an error
// matching [ErrStalePlan]; [VM.UpdateDevice] then plans once more from a
// full read-back. A plan with nothing to do is checked at once, with `info
// network` alone, so that a noop plan still means QEMU is as wanted (and
// when it is not, the plan is computed again from a full read-back). Any failed plan or read also falls back to the full
// read-back: attach, recovery after a crash and rollback are unchanged.

// remember records st, a full read-back, as what the VM knows.
func (v *VM) remember(st *State) { v.known = cloneState(st) }

// forget makes the next plan read everything back.
func (v *VM) forget() { v.known = nil }

// planState is the live state an update is planned from: what the VM
// knows, then also returned as the plan's basis (the plan must be checked
// against it when applied), else a full read-back, which it then
// remembers (basis nil).
func (v *VM) planState(ctx context.Context) (st, basis *State, _ error) {
	if v.known == nil {
		st, err := v.readState(ctx)
		return st, nil, err
	}
	st = cloneState(v.known)
	if v.exec.host != nil && slices.ContainsFunc(st.NICs, readsHost) {
		if err := readHostLinks(ctx, v.exec.host, st); err != nil {
			v.forget()
			return nil, nil, err
		}
		// A host link deleted behind nicplug's back stays gone: keep
		// what the VM knows of the host as it is now, so that a NIC
		// whose links all went costs no dump any more.
		for i := range st.NICs {
			v.known.NICs[i].HostLinks = slices.Clone(st.NICs[i].HostLinks)
		}
	}
	return st, cloneState(v.known), nil
}

// readsHost reports whether a plan for a VM that knows ns must read the
// host again: ns is on the tap datapath (its fixed tap's plumbing), or
// owns host links (a macvtap or bridge tap), which anyone may delete
// behind nicplug's back (`ip link del`, or of the macvtap's parent).
// The planner must then see them missing, as after a full read-back,
// rather than plan a noop for a backend that no longer works.
func readsHost(ns NICState) bool {
	return ns.Datapath == domain.DatapathTap || len(ns.HostLinks) > 0
}

// checkBasis is the check of a plan computed from basis, what the VM knew
// of QEMU: text is `info network` as QEMU answered it right before the
// plan's first command.
func checkBasis(text string, basis *State) error {
	ni, err := backend.ParseInfoNetwork(text)
	if err != nil {
		return fmt.Errorf("nicplug: read back: %w", err)
	}
	got, ok := quickView(ni, basis)
	if !ok {
		return &changedError{what: "a NIC is gone, re-peered or has another MAC"}
	}
	if dev, same := sameNetdevs(got, basis); !same {
		return &changedError{what: "netdevs of " + dev}
	}
	return nil
}

// checkNow checks QEMU against basis with `info network` alone (pending's
// reply when it was started); any failure makes the VM forget what it
// knows.
func (v *VM) checkNow(ctx context.Context, basis *State, pending *qmp.Call) error {
	text, err := readCheck(ctx, v.mon, pending)
	if err == nil {
		err = checkBasis(text, basis)
	}
	if err != nil {
		v.forget()
	}
	return err
}

// changedError is a plan's check failing: QEMU is not what the VM knows.
type changedError struct{ what string }

func (e *changedError) Error() string {
	return "nicplug: plan is stale: QEMU changed since it was computed (" + e.what + "); nothing was changed, plan again"
}

// Is makes the error match [ErrStalePlan].
func (e *changedError) Is(target error) bool { return target == ErrStalePlan }

// quickView rebuilds the state of known's NICs from `info network`. ok is
// false when QEMU does not match what known says of the NICs themselves (a
// NIC gone, re-peered or with another MAC). A tap-datapath NIC's plumbing
// is not in it: QEMU does not see the host.
func quickView(ni *backend.NetworkInfo, known *State) (_ *State, ok bool) {
	st := &State{VM: known.VM, Running: known.Running, NICs: make([]NICState, 0, len(known.NICs)), Unmanaged: known.Unmanaged}
	for _, k := range known.NICs {
		if k.Datapath == domain.DatapathTap {
			if !tapPeered(ni, k) {
				return nil, false
			}
			st.NICs = append(st.NICs, NICState{Device: k.Device, MAC: k.MAC, Peer: k.Peer, Hub: -1, Datapath: k.Datapath})
			continue
		}
		h, port, found := ni.Port(domain.HubPortIDFor(k.Device))
		if !found || k.Peer != port.Name || port.Peer == nil || port.Peer.Name != k.Device ||
			port.Peer.Type != "nic" || !hasMAC(port.Peer.Info, k.MAC) {
			return nil, false
		}
		ns := NICState{Device: k.Device, MAC: k.MAC, Peer: k.Peer, Hub: h.ID, HostLinks: slices.Clone(k.HostLinks), Datapath: k.Datapath}
		collect(&ns, ni)
		st.NICs = append(st.NICs, ns)
	}
	return st, true
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
// without error: netdevs added and deleted, host links created and
// deleted, and the VM resumed. A step whose effect it cannot tell makes
// the VM forget (the next plan reads everything back).
func (v *VM) applied(p *Plan) {
	if v.known == nil {
		return
	}
	for _, s := range p.Steps {
		a := s.Do
		if a.Type == ActionQMP && !trackQMP(v.known, a) {
			v.forget()
			return
		}
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
