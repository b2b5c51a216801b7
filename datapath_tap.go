package nicplug

import (
	"fmt"
	"slices"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// The tap datapath: the NIC is peered for life with its fixed tap
// ("np.<dev>.tap" in QEMU, [backend.TapName] on the host). No QEMU netdev
// changes; a move re-plumbs the tap on the host:
//
//	bridge    check-bridge BR (prepare), set-master TAP master=BR
//	          [set-vlan TAP vlan=N]
//	direct    create-macvlan MV (prepare), add-redirect TAP -> MV,
//	          add-redirect MV -> TAP; delete-link MV after (finish)
//	ethernet  check-target DEV -> TAP (prepare), add-redirect TAP -> DEV,
//	          add-redirect DEV -> TAP
//	none      nothing: no master, no redirect
//
// Detaching undoes the attach steps in reverse order (the redirect back
// to the tap first, so a crash never leaves a link redirecting to the tap
// without the tap redirecting to it). A VLAN change on the same bridge is
// one set-vlan step.

// tapPath plans moves on the tap datapath.
type tapPath struct{}

func (tapPath) move(b *planBuilder, live NICState, cur, want Wiring) (*move, error) {
	vm := b.p.VM
	t := live.Tap
	switch {
	case live.Peer != domain.TapNetdevIDFor(want.Device) || t == nil:
		return nil, fmt.Errorf("nicplug: NIC %s is not peered with its fixed tap %s (peer %q): it was not started by nicplug",
			want.Device, domain.TapNetdevIDFor(want.Device), live.Peer)
	case t.Missing:
		return nil, &TapMissingError{VM: vm, Device: want.Device, Tap: t.Name}
	}
	tap := t.Name
	liveB, clean := t.Backend()
	m := &move{}

	// Leftovers: owned links of this NIC other than its tap and the
	// macvlan in use.
	inUse := ""
	if _, ok := t.Macvlans[t.Plug.Redirect]; ok {
		inUse = t.Plug.Redirect
	}
	for _, l := range live.HostLinks {
		if l != tap && l != inUse {
			m.cleanup.add(Action{Type: ActionHost, Op: OpDeleteLink, Link: l})
		}
	}
	m.asRecorded = clean && liveB == normNone(t.asRead(cur.Backend))
	if clean && liveB == normNone(t.asRead(want.Backend)) {
		return m, nil // plugged as wanted
	}
	m.detachOld = !(clean && liveB.IsNone())
	m.attachNew = !want.Backend.IsNone()

	// A bridge is checked before the link goes down: nothing can be made
	// ahead on it, but a missing bridge (or one that cannot carry the
	// VLAN) then fails while the guest still has its network.
	if w := want.Backend; w.Type == domain.TypeBridge {
		m.prepare.add(Action{Type: ActionHost, Op: OpCheckBridge, Bridge: w.Bridge, VLAN: w.VLAN})
	}
	// A VLAN change on the same bridge: one step.
	if clean && liveB.Type == domain.TypeBridge && want.Backend.Type == domain.TypeBridge && liveB.Bridge == want.Backend.Bridge {
		m.attach.add(setVLAN(tap, want.Backend.VLAN), setVLAN(tap, liveB.VLAN))
		return m, nil
	}

	// Detach what is live, whatever it is.
	p := t.Plug
	if p.Master != "" {
		undo := []Action{setMaster(tap, p.Master)}
		if p.VLAN != 0 {
			undo = append(undo, setVLAN(tap, p.VLAN))
		}
		m.detach.add(setMaster(tap, ""), undo...)
	}
	if p.Redirect != "" {
		if p.Back {
			m.detach.add(delRedirect(p.Redirect), addRedirect(p.Redirect, tap))
		}
		m.detach.add(delRedirect(tap), addRedirect(tap, p.Redirect))
	}
	if mv, ok := t.Macvlans[inUse]; ok {
		m.finish.add(Action{Type: ActionHost, Op: OpDeleteLink, Link: inUse}, createMacvlan(mv.Name, mv.Parent, mv.Mode, want.MAC, vm, want.Device))
	}

	// Attach what is wanted.
	switch w := want.Backend; w.Type {
	case domain.TypeBridge:
		m.attach.add(setMaster(tap, w.Bridge), setMaster(tap, ""))
		if w.VLAN != 0 {
			m.attach.add(setVLAN(tap, w.VLAN))
		}
	case domain.TypeDirect:
		mv := freeLinkName(vm, want.Device, live.HostLinks)
		// A macvlan cannot be created next to another with the same MAC
		// on the same parent (EADDRINUSE): break before make.
		m.breakFirst = inUse != "" && t.Macvlans[inUse].Parent == w.Dev
		m.prepare.add(createMacvlan(mv, w.Dev, backend.MacvtapMode(w), want.MAC, vm, want.Device),
			Action{Type: ActionHost, Op: OpDeleteLink, Link: mv})
		m.attach.add(addRedirect(tap, mv), delRedirect(tap))
		m.attach.add(addRedirect(mv, tap), delRedirect(mv))
	case domain.TypeEthernet:
		if w.Dev == tap {
			return nil, badInput("plan", fmt.Errorf("NIC %s: ethernet target dev %s is the NIC's own fixed tap", want.Device, w.Dev))
		}
		// Checked before the link goes down, like a bridge: a missing
		// interface fails while the guest still has its network.
		m.prepare.add(Action{Type: ActionHost, Op: OpCheckTarget, Link: w.Dev, Target: tap,
			Owner: &backend.Owner{VM: vm, NIC: want.Device}})
		m.attach.add(addRedirect(tap, w.Dev), delRedirect(tap))
		m.attach.add(addRedirect(w.Dev, tap), delRedirect(w.Dev))
	case domain.TypeNone:
	default:
		return nil, badInput("plan", fmt.Errorf("NIC %s: %w", want.Device, &domain.DatapathError{Datapath: domain.DatapathTap, Type: w.Type}))
	}
	return m, nil
}

// normNone maps the zero backend to type none.
func normNone(b domain.Backend) domain.Backend {
	if b.IsNone() {
		return domain.Backend{Type: domain.TypeNone}
	}
	return b
}

// freeLinkName is the first of device's link names (generations 1, 2, …)
// not among links.
func freeLinkName(vm, device string, links []string) string {
	for gen := 1; ; gen++ {
		if name := backend.LinkName(vm, device, gen); !slices.Contains(links, name) {
			return name
		}
	}
}

func setMaster(link, bridge string) Action {
	return Action{Type: ActionHost, Op: OpSetMaster, Link: link, Bridge: bridge}
}

func setVLAN(link string, vlan int) Action {
	return Action{Type: ActionHost, Op: OpSetVLAN, Link: link, VLAN: vlan}
}

func addRedirect(from, to string) Action {
	return Action{Type: ActionHost, Op: OpAddRedirect, Link: from, Target: to}
}

func delRedirect(from string) Action {
	return Action{Type: ActionHost, Op: OpDelRedirect, Link: from}
}

func createMacvlan(name, parent, mode, mac, vm, device string) Action {
	return Action{Type: ActionHost, Op: OpCreateMacvlan, Link: name, Parent: parent, Mode: mode, MAC: mac,
		Owner: &backend.Owner{VM: vm, NIC: device}}
}
