package nicplug

import (
	"fmt"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// The order of a move, the same on every datapath.
//
// A datapath (datapath_hub.go, datapath_tap.go) says how a NIC's backend
// is attached and detached: hub ports inside QEMU, or the fixed tap's
// re-plumbing on the host. It returns a move: the steps of each phase
// with their undos. assemble puts them in the one order every plan kind
// follows:
//
//	cleanup   leftovers of an interrupted plan (no undo)
//	prepare   create the new side, the link still up on the old one
//	arm       query-rx-filter, so the hold can end when the guest reacts
//	down      set_link false
//	detach    unplug the old side
//	attach    plug the new side
//	hold      keep the link down until the guest noticed
//	up        set_link true
//	announce  announce-self
//	finish    remove the old side
//
// Where the new side cannot exist next to the old one (a macvtap or
// macvlan with the same MAC on the same parent), the old side is removed
// between detach and prepare instead (breakFirst).

// move is what a datapath plans for one NIC.
type move struct {
	// attachNew: a new backend is attached (the wanted one is not).
	attachNew bool
	// detachOld: a backend (the old one, or leftovers attached beside the
	// wanted one) is detached.
	detachOld bool
	// breakFirst removes the old side before preparing the new one.
	breakFirst bool
	// asRecorded: the live wiring is exactly cur's backend (or none),
	// so cur's link state can be trusted.
	asRecorded bool

	cleanup, prepare, detach, attach, finish stepList
}

// stepList collects a phase's steps.
type stepList []Step

func (l *stepList) add(do Action, undo ...Action) { *l = append(*l, Step{Do: do, Undo: undo}) }

// datapath plans the datapath-specific part of a move.
type datapath interface {
	move(b *planBuilder, live NICState, cur, want Wiring) (*move, error)
}

// datapathOf returns the datapath live is on, checked against want's.
func datapathOf(live NICState, want Wiring) (datapath, error) {
	wantDP := want.Datapath
	if wantDP == "" {
		wantDP = domain.DatapathHub
	}
	liveDP := live.Datapath
	if liveDP == "" {
		liveDP = domain.DatapathHub
	}
	if liveDP != wantDP {
		return nil, fmt.Errorf("nicplug: NIC %s is on the %s datapath in QEMU (peer %q) but the domain asks for the %s datapath: the datapath is chosen when QEMU starts (<driver>) and cannot change live",
			want.Device, liveDP, live.Peer, wantDP)
	}
	if wantDP == domain.DatapathTap {
		return tapPath{}, nil
	}
	return hubPath{}, nil
}

func (b *planBuilder) update(live NICState, cur, want Wiring, announce bool) (PlanKind, error) {
	p := b.p
	if live.Device != want.Device || cur.Device != want.Device {
		return "", fmt.Errorf("nicplug: plan for %s given state of %s and wiring of %s", want.Device, live.Device, cur.Device)
	}
	dp, err := datapathOf(live, want)
	if err != nil {
		return "", err
	}
	wantNone := want.Backend.IsNone()
	if !wantNone {
		if err := backend.Validate(want.Backend); err != nil {
			return "", badInput("plan", fmt.Errorf("NIC %s: %w", want.Device, err))
		}
	}
	want.LinkUp = want.LinkUp && !wantNone
	m, err := dp.move(b, live, cur, want)
	if err != nil {
		return "", err
	}

	for _, s := range m.cleanup {
		b.add("cleanup", s.Do, s.Undo...)
	}
	// QEMU cannot report link state: trust the recorded one only when the
	// live wiring is what was recorded and no plan was interrupted;
	// otherwise assume the opposite of what is wanted, so the plan sets
	// the link explicitly.
	link := cur.LinkUp
	unknown := cur.LinkUnknown || !m.asRecorded || len(m.cleanup) > 0
	if unknown {
		link = true // it may be up: take it down before detaching
	}
	var kind PlanKind
	switch {
	case m.attachNew && !m.detachOld:
		kind = KindPlug
	case m.attachNew:
		kind = KindSwitch
	case wantNone && m.detachOld:
		kind = KindUnplug
	case m.detachOld: // the wanted backend and others attached
		kind = KindSwitch
	}
	prepare := func() {
		for _, s := range m.prepare {
			b.add("prepare", s.Do, s.Undo...)
		}
	}
	finish := func() {
		for _, s := range m.finish {
			b.add("finish", s.Do, s.Undo...)
		}
	}
	if !m.breakFirst {
		prepare()
	}
	if m.detachOld && link {
		if want.LinkUp && cur.LinkUp && p.adaptive() {
			// Arm the event that ends the hold early: QEMU reports a
			// NIC's filter change once, then not again until queried.
			b.add("arm", Action{Type: ActionQMP, Command: "query-rx-filter", Args: backend.Object("name", want.Device)})
		}
		b.add("down", setLink(want.Device, false), setLink(want.Device, true))
		link, unknown = false, false
	}
	wentDown := cur.LinkUp && !link
	for _, s := range m.detach {
		b.add("detach", s.Do, s.Undo...)
	}
	if m.breakFirst {
		finish()
		prepare()
	}
	for _, s := range m.attach {
		b.add("attach", s.Do, s.Undo...)
	}
	if hold := p.hold(); want.LinkUp && !link && wentDown && hold > 0 {
		b.add("hold", p.holdAction(want.Device))
	}
	if link != want.LinkUp || unknown {
		phase := "up"
		switch {
		case kind == "":
			phase = "link"
		case !want.LinkUp:
			phase = "down"
		}
		if unknown {
			// Nothing known to restore.
			b.add(phase, setLink(want.Device, want.LinkUp))
		} else {
			b.add(phase, setLink(want.Device, want.LinkUp), setLink(want.Device, link))
		}
		link = want.LinkUp
	}
	if announce && p.Announce && link && (kind == KindPlug || kind == KindSwitch) {
		b.add("announce", qmpAction("announce-self", "initial", 50, "max", 550, "rounds", 5, "step", 100,
			"interfaces", []string{want.Device}))
	}
	if !m.breakFirst {
		finish()
	}
	switch {
	case kind != "":
	case len(m.cleanup) > 0:
		kind = KindCleanup
	case len(b.steps) > 0:
		kind = KindLink
	default:
		kind = KindNoop
	}
	return kind, nil
}
