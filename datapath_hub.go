package nicplug

import (
	"fmt"
	"slices"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// The hub datapath: the NIC is peered for life with a port of its own hub
// ("np.<dev>.nic"); a backend netdev joins the hub through a second port
// ("np.<dev>.p<gen>"). A move prepares the new backend standalone (host link,
// fd, getfd, netdev_add), swaps the hub ports while the link is down and
// deletes the old backend after.

// hubPath plans moves on the hub datapath.
type hubPath struct{}

// liveBackend is a parsed BackendState.
type liveBackend struct {
	BackendState
	id backend.NetdevID
}

func (hubPath) move(b *planBuilder, live NICState, cur, want Wiring) (*move, error) {
	p := b.p
	if live.Hub < 0 || live.Peer != domain.HubPortIDFor(want.Device) {
		return nil, fmt.Errorf("nicplug: NIC %s is not peered with its hub port %s (peer %q): it was not started by nicplug",
			want.Device, domain.HubPortIDFor(want.Device), live.Peer)
	}
	if live.Hub != want.Hub {
		return nil, fmt.Errorf("nicplug: NIC %s is on hub %d, want hub %d", want.Device, live.Hub, want.Hub)
	}
	wantNone := want.Backend.IsNone()
	var wantHash string
	if !wantNone {
		wantHash = backend.SpecHash(want.Backend)
	}

	// Sort out what is live.
	var keep *liveBackend
	var detach, garbage []liveBackend
	maxGen := 0
	for _, bs := range live.Backends {
		id, err := backend.ParseNetdevID(bs.ID)
		if err != nil || id.Role != backend.RoleBackend || id.Device != want.Device {
			return nil, fmt.Errorf("nicplug: NIC %s: live backend %q is not one of its backends", want.Device, bs.ID)
		}
		maxGen = max(maxGen, id.Gen)
		lb := liveBackend{bs, id}
		switch {
		case !bs.Attached():
			garbage = append(garbage, lb)
		case keep == nil && !wantNone && id.Hash == wantHash && b.hasLink(live, want.Backend, id):
			keep = &lb
		default:
			detach = append(detach, lb)
		}
	}
	for _, port := range live.StrayPorts {
		if id, err := backend.ParseNetdevID(port); err == nil {
			maxGen = max(maxGen, id.Gen)
		}
	}
	// Host links that belong to a live tap backend stay; the others are
	// leftovers.
	linkOf := map[string]liveBackend{}
	for _, lb := range append(append(slices.Clone(detach), garbage...), derefAll(keep)...) {
		if lb.Driver == "tap" {
			linkOf[backend.LinkName(p.VM, want.Device, lb.id.Gen)] = lb
		}
	}

	m := &move{attachNew: keep == nil && !wantNone, detachOld: len(detach) > 0}
	// Cleanup of leftovers: no undo, they are garbage.
	for _, port := range live.StrayPorts {
		m.cleanup.add(netdevDel(port))
	}
	for _, g := range garbage {
		m.cleanup.add(netdevDel(g.ID))
	}
	for _, l := range live.HostLinks {
		if lb, ok := linkOf[l]; !ok || !lb.Attached() {
			m.cleanup.add(Action{Type: ActionHost, Op: OpDeleteLink, Link: l})
		}
	}
	m.asRecorded = b.wiredAsRecorded(live, cur, len(m.cleanup) > 0)

	// A macvtap cannot be created next to another with the same MAC on
	// the same parent (EADDRINUSE): for a move between two macvtaps of one
	// parent, break before make.
	m.breakFirst = m.attachNew && want.Backend.Type == domain.TypeDirect &&
		cur.Backend.Type == domain.TypeDirect && cur.Backend.Dev == want.Backend.Dev && len(detach) > 0
	if m.attachNew {
		newID := backend.BackendID(want.Device, maxGen+1, want.Backend)
		if err := b.prepare(m, want, newID); err != nil {
			return nil, err
		}
		port := newID.Port().String()
		m.attach.add(Action{Type: ActionQMP, Command: "netdev_add", Args: backend.HubPortArgs(port, want.Hub, newID.String())}, netdevDel(port))
	}
	for _, d := range detach {
		m.detach.add(netdevDel(d.Port), Action{Type: ActionQMP, Command: "netdev_add", Args: backend.HubPortArgs(d.Port, want.Hub, d.ID)})
		if err := b.removeBackend(m, d, live, cur, want); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (b *planBuilder) wiredAsRecorded(live NICState, cur Wiring, leftovers bool) bool {
	if leftovers {
		return false
	}
	var attached []BackendState
	for _, bs := range live.Backends {
		if bs.Attached() {
			attached = append(attached, bs)
		}
	}
	if cur.Backend.IsNone() {
		return len(attached) == 0
	}
	if len(attached) != 1 {
		return false
	}
	id, err := backend.ParseNetdevID(attached[0].ID)
	return err == nil && id.Hash == backend.SpecHash(cur.Backend)
}

func derefAll(lb *liveBackend) []liveBackend {
	if lb == nil {
		return nil
	}
	return []liveBackend{*lb}
}

// hasLink reports whether the host lists the link backend id of kind spec
// needs, for a kind whose link nicplug creates (true for other kinds).
func (b *planBuilder) hasLink(live NICState, spec domain.Backend, id backend.NetdevID) bool {
	need, err := backend.Needs(spec)
	if err != nil || !need.Creates() {
		return true
	}
	return slices.Contains(live.HostLinks, backend.LinkName(b.p.VM, live.Device, id.Gen))
}

// prepare adds the steps that create backend id standalone: host device,
// fd, getfd, netdev_add.
func (b *planBuilder) prepare(m *move, want Wiring, id backend.NetdevID) error {
	steps, err := b.createSteps(want.Backend, want, id)
	if err != nil {
		return err
	}
	m.prepare = append(m.prepare, steps...)
	return nil
}

// createSteps returns the steps creating backend spec as netdev id (no
// hub port), each with its undo.
func (b *planBuilder) createSteps(spec domain.Backend, w Wiring, id backend.NetdevID) ([]Step, error) {
	need, err := backend.Needs(spec)
	if err != nil {
		return nil, badInput("plan", fmt.Errorf("NIC %s: %w", w.Device, err))
	}
	var steps []Step
	var fdNames []string
	if need.PassesFD() {
		link := spec.Dev
		owner := &backend.Owner{VM: b.p.VM, NIC: w.Device}
		switch need {
		case backend.NeedMacvtap:
			link = backend.LinkName(b.p.VM, w.Device, id.Gen)
			steps = append(steps, Step{
				Do: Action{Type: ActionHost, Op: OpCreateMacvtap, Link: link, Parent: spec.Dev,
					Mode: backend.MacvtapMode(spec), MAC: w.MAC, Owner: owner},
				Undo: []Action{{Type: ActionHost, Op: OpDeleteLink, Link: link}},
			})
		case backend.NeedBridgeTap:
			link = backend.LinkName(b.p.VM, w.Device, id.Gen)
			steps = append(steps, Step{
				Do:   Action{Type: ActionHost, Op: OpCreateBridgeTap, Link: link, Bridge: spec.Bridge, VLAN: spec.VLAN, MAC: w.MAC, Owner: owner},
				Undo: []Action{{Type: ActionHost, Op: OpDeleteLink, Link: link}},
			})
		}
		fd := id.FD(0).String()
		fdNames = []string{fd}
		open := OpOpenTap
		if need == backend.NeedMacvtap {
			open = OpOpenMacvtap
		}
		steps = append(steps,
			Step{Do: Action{Type: ActionHost, Op: open, Link: link, FD: fd}},
			Step{
				Do:   Action{Type: ActionQMP, Command: "getfd", Args: backend.Object("fdname", fd), FD: fd},
				Undo: []Action{{Type: ActionQMP, Command: "closefd", Args: backend.Object("fdname", fd), FD: fd}},
			})
	}
	args, err := backend.NetdevArgs(id.String(), spec, fdNames...)
	if err != nil {
		return nil, badInput("plan", fmt.Errorf("NIC %s: %w", w.Device, err))
	}
	steps = append(steps, Step{
		Do:   Action{Type: ActionQMP, Command: "netdev_add", Args: args, Consumes: fdNames},
		Undo: []Action{netdevDel(id.String())},
	})
	return steps, nil
}

// removeBackend adds the steps deleting a detached backend and its host
// link. When the backend's spec is known (it is the recorded one), the undo
// recreates it exactly, and its link is deleted even when the host did not
// list it (applying reports it missing); otherwise nothing can undo the
// deletion, and only a link the host listed is deleted (an unknown tap
// backend may be an ethernet one, whose tap is not nicplug's).
func (b *planBuilder) removeBackend(m *move, d liveBackend, live NICState, cur, want Wiring) error {
	known := !cur.Backend.IsNone() && backend.SpecHash(cur.Backend) == d.id.Hash
	link := backend.LinkName(b.p.VM, want.Device, d.id.Gen)
	// A backend of a kind whose host link nicplug creates (known by its
	// hash) but whose link the host does not list: nothing to delete,
	// nothing to recreate it from; the plan reports the link missing.
	for _, spec := range []domain.Backend{cur.Backend, want.Backend} {
		if !spec.IsNone() && backend.SpecHash(spec) == d.id.Hash && !b.hasLink(live, spec, d.id) {
			b.missing = append(b.missing, link)
			m.finish.add(netdevDel(d.ID))
			return nil
		}
	}
	var recreate []Step
	if known {
		var err error
		if recreate, err = b.createSteps(cur.Backend, cur, d.id); err != nil {
			return err
		}
	}
	need := backend.NeedNothing
	if known {
		need, _ = backend.Needs(cur.Backend)
	}
	// Undo of netdev_del: every recreate action except a host create (the
	// link still exists when this undo runs: its own deletion is undone
	// first).
	var undo []Action
	for _, s := range recreate {
		if s.Do.Op == OpCreateMacvtap || s.Do.Op == OpCreateBridgeTap {
			continue
		}
		undo = append(undo, s.Do)
	}
	m.finish.add(netdevDel(d.ID), undo...)
	switch {
	case known && need.Creates():
		m.finish.add(Action{Type: ActionHost, Op: OpDeleteLink, Link: link}, recreate[0].Do)
	case !known && d.Driver == "tap" && slices.Contains(live.HostLinks, link):
		m.finish.add(Action{Type: ActionHost, Op: OpDeleteLink, Link: link})
	}
	return nil
}
