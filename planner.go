package nicplug

import (
	"fmt"
	"slices"
	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// Wiring is what a NIC is connected to and whether its link is up: the
// desired wiring of an update, or the recorded wiring of a running NIC.
type Wiring struct {
	// Device is the NIC's QEMU device id.
	Device string
	// Hub is the id of the NIC's own hub.
	Hub int
	// MAC is the NIC's MAC (needed for macvtaps).
	MAC string
	// Backend is what sits behind the NIC; IsNone means unplugged.
	Backend domain.Backend
	// LinkUp is the NIC's link state. It is never true without a backend.
	LinkUp bool
	// LinkUnknown, in a recorded wiring, says that LinkUp is a guess
	// (nicplug attached without the domain and has not set the link
	// since): plans then set the link explicitly.
	LinkUnknown bool
}

// WiringOf returns the wiring a domain NIC asks for.
func WiringOf(n *domain.NIC) Wiring {
	b := n.Backend()
	if b.Type == "" {
		b.Type = domain.TypeNone
	}
	return Wiring{
		Device:  n.DeviceID(),
		Hub:     n.HubID(),
		MAC:     n.MAC(),
		Backend: b,
		LinkUp:  n.LinkUp() && !b.IsNone(),
	}
}

// State is a VM's live network wiring, read back from QEMU and the host.
type State struct {
	// VM is the domain name.
	VM string
	// Running reports whether the guest CPUs run (query-status).
	Running bool
	// NICs are the NICs nicplug manages, in domain order.
	NICs []NICState
	// Unmanaged are the other NICs QEMU has, with the reason nicplug does
	// not manage them (filled by a full read-back: [ReadWiring],
	// [VM.State]).
	Unmanaged []UnmanagedNIC
}

// NIC returns the state of the NIC with device id dev.
func (s *State) NIC(dev string) (*NICState, bool) {
	for i := range s.NICs {
		if s.NICs[i].Device == dev {
			return &s.NICs[i], true
		}
	}
	return nil, false
}

// NICState is one NIC's live wiring.
type NICState struct {
	// Device is the QEMU device id.
	Device string
	// MAC is the NIC's MAC as QEMU reports it.
	MAC string
	// Peer is the NIC's netdev (its hub port), "" when it has none.
	Peer string
	// Hub is the hub the NIC's hub port is on, -1 when it is on none.
	Hub int
	// Backends are the backend netdevs of this NIC that exist in QEMU, of
	// any generation, attached to the hub or standalone, newest first.
	Backends []BackendState
	// StrayPorts are hub ports of this NIC's backends whose backend is gone.
	StrayPorts []string
	// HostLinks are the host links nicplug created for this NIC.
	HostLinks []string
}

// Attached returns the backend joined to the NIC's hub, the newest one if
// an interrupted plan left several.
func (ns *NICState) Attached() (BackendState, bool) {
	for _, b := range ns.Backends {
		if b.Attached() {
			return b, true
		}
	}
	return BackendState{}, false
}

// Leftovers returns the netdev ids an interrupted plan left behind in QEMU
// for this NIC, which the next plan removes: standalone backends, backends
// attached to the hub besides the one [NICState.Attached] returns, and
// stray hub ports. Host links are not included.
func (ns *NICState) Leftovers() []string {
	var out []string
	first, _ := ns.Attached()
	for _, b := range ns.Backends {
		if b.ID != first.ID {
			out = append(out, b.ID)
		}
	}
	return append(out, ns.StrayPorts...)
}

// BackendState is one backend netdev in QEMU.
type BackendState struct {
	// ID is the netdev id.
	ID string
	// Driver is QEMU's client type: tap, user, socket.
	Driver string
	// Port is the id of the hub port joining it to the NIC's hub, "" when
	// it is standalone.
	Port string
}

// Attached reports whether the backend is joined to the NIC's hub.
func (b BackendState) Attached() bool { return b.Port != "" }

// DefaultCarrierHold is the carrier hold of a switch when
// [Planner.CarrierHold] (or [Config.CarrierHold]) is zero: longer than
// NetworkManager's carrier debounce (it ignores carrier loss shorter than
// about 6 s), so that common guests see the cable pulled and re-run DHCP
// on the new network.
const DefaultCarrierHold = 7 * time.Second

// NoCarrierHold, as [Planner.CarrierHold] (any negative value does), asks
// for no carrier hold: the link comes back up right after the hub ports are
// swapped.
const NoCarrierHold time.Duration = -1

// Planner computes plans. It is pure: the same inputs give the same plan.
// The zero value plans with the [DefaultCarrierHold] and no announce.
type Planner struct {
	// VM is the domain name (owner tag of host links).
	VM string
	// CarrierHold is how long the link stays down during a switch before
	// it comes back up, so that the guest notices it moved and re-runs
	// DHCP. Zero means [DefaultCarrierHold] (7 s); negative means no hold.
	//
	// Without a hold the link is down only for the QMP round trips of the
	// hub port swap (about 4 ms measured here): a guest polling carrier
	// every 10 ms misses it, as does NetworkManager, and keeps its old
	// lease on the new network. Guests that react to the kernel's carrier
	// events at once (systemd-networkd, dhcpcd) or poll often need far less
	// than the default: the end-to-end tests use 300 ms.
	CarrierHold time.Duration
	// FixedHold holds the link down for the whole CarrierHold. By default
	// (false) the hold is the longest the link stays down: it ends as
	// soon as the guest shows it noticed the carrier loss, by changing its
	// NIC's receive filter (QEMU's NIC_RX_FILTER_CHANGED event, armed by
	// a query-rx-filter step before the link goes down), and no sooner
	// than MinCarrierHold. Guests whose filter does not change keep the
	// link down for the whole hold. Measured (README "Carrier hold"):
	// systemd-networkd changes it 20–110 ms after the drop, NetworkManager
	// ~6.2 s after (when it gives up its lease), a busybox udhcpc guest
	// (IPv4 only) never.
	FixedHold bool
	// Announce adds announce-self (gratuitous ARP/RARP) after a plug or
	// switch brings the link up.
	Announce bool
}

// MinCarrierHold is the shortest carrier hold that ends when the guest
// reacts: a drop of ~10 ms was once not seen by a guest kernel at all.
const MinCarrierHold = 50 * time.Millisecond

// rxFilterChanged is the QMP event a NIC's guest driver triggers when it
// changes the NIC's receive filter.
const rxFilterChanged = "NIC_RX_FILTER_CHANGED"

// adaptive reports whether a hold ends when the guest reacts.
func (p *Planner) adaptive() bool { return !p.FixedHold && p.hold() > 0 }

// holdAction is the carrier hold of a switch of device's NIC.
func (p *Planner) holdAction(device string) Action {
	hold := p.hold()
	a := Action{Type: ActionWait, Duration: hold.String()}
	if p.adaptive() {
		a.Until, a.Min, a.Args = rxFilterChanged, min(MinCarrierHold, hold).String(), backend.Object("name", device)
	}
	return a
}

// hold is the carrier hold to plan.
func (p *Planner) hold() time.Duration {
	switch {
	case p.CarrierHold < 0:
		return 0
	case p.CarrierHold == 0:
		return DefaultCarrierHold
	}
	return p.CarrierHold
}

// planBuilder accumulates steps.
type planBuilder struct {
	p     *Planner
	steps []Step
	// missing are the host links live backends use that the host did
	// not list (Plan.Missing).
	missing []string
}

func (b *planBuilder) add(phase string, do Action, undo ...Action) {
	b.steps = append(b.steps, Step{Phase: phase, Do: do, Undo: undo})
}

func qmpAction(cmd string, args ...any) Action {
	a := Action{Type: ActionQMP, Command: cmd}
	if len(args) > 0 {
		a.Args = backend.Object(args...)
	}
	return a
}

func setLink(dev string, up bool) Action { return qmpAction("set_link", "name", dev, "up", up) }

func netdevDel(id string) Action { return qmpAction("netdev_del", "id", id) }

// liveBackend is a parsed BackendState.
type liveBackend struct {
	BackendState
	id backend.NetdevID
}

// Update plans taking one NIC from its live state live, recorded as cur,
// to want. cur tells the link state (QEMU cannot report it) and the spec of
// the attached backend when its hash matches. Leftovers of interrupted plans
// (standalone backends, stray hub ports, unowned host links) are removed
// first.
func (p *Planner) Update(live NICState, cur, want Wiring) (*Plan, error) {
	b := &planBuilder{p: p}
	kind, err := b.update(live, cur, want, true)
	if err != nil {
		return nil, err
	}
	return b.finish(kind, want.Device), nil
}

func (b *planBuilder) finish(kind PlanKind, dev string) *Plan {
	for i := range b.steps {
		b.steps[i].Num = i + 1
	}
	if b.steps == nil {
		b.steps = []Step{}
	}
	return &Plan{Version: PlanVersion, Kind: kind, VM: b.p.VM, Device: dev, Steps: b.steps, Missing: b.missing}
}

func (b *planBuilder) update(live NICState, cur, want Wiring, announce bool) (PlanKind, error) {
	p := b.p
	if live.Device != want.Device || cur.Device != want.Device {
		return "", fmt.Errorf("nicplug: plan for %s given state of %s and wiring of %s", want.Device, live.Device, cur.Device)
	}
	if live.Hub < 0 || live.Peer != domain.HubPortIDFor(want.Device) {
		return "", fmt.Errorf("nicplug: NIC %s is not peered with its hub port %s (peer %q): it was not started by nicplug",
			want.Device, domain.HubPortIDFor(want.Device), live.Peer)
	}
	if live.Hub != want.Hub {
		return "", fmt.Errorf("nicplug: NIC %s is on hub %d, want hub %d", want.Device, live.Hub, want.Hub)
	}
	wantNone := want.Backend.IsNone()
	var wantHash string
	if !wantNone {
		if err := backend.Validate(want.Backend); err != nil {
			return "", badInput("plan", fmt.Errorf("NIC %s: %w", want.Device, err))
		}
		wantHash = backend.SpecHash(want.Backend)
	}
	want.LinkUp = want.LinkUp && !wantNone

	// Sort out what is live.
	var keep *liveBackend
	var detach, garbage []liveBackend
	maxGen := 0
	for _, bs := range live.Backends {
		id, err := backend.ParseNetdevID(bs.ID)
		if err != nil || id.Role != backend.RoleBackend || id.Device != want.Device {
			return "", fmt.Errorf("nicplug: NIC %s: live backend %q is not one of its backends", want.Device, bs.ID)
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

	// Cleanup of leftovers: no undo, they are garbage.
	cleanupBefore := len(b.steps)
	for _, port := range live.StrayPorts {
		b.add("cleanup", netdevDel(port))
	}
	for _, g := range garbage {
		b.add("cleanup", netdevDel(g.ID))
	}
	for _, l := range live.HostLinks {
		if lb, ok := linkOf[l]; !ok || !lb.Attached() {
			b.add("cleanup", Action{Type: ActionHost, Op: OpDeleteLink, Link: l})
		}
	}

	// QEMU cannot report link state: trust the recorded one only when the
	// live wiring is what was recorded and no plan was interrupted;
	// otherwise assume the opposite of what is wanted, so the plan sets
	// the link explicitly.
	cleanups := len(b.steps) - cleanupBefore
	link := cur.LinkUp
	unknown := cur.LinkUnknown || !b.wiredAsRecorded(live, cur, cleanups > 0)
	if unknown {
		link = true // it may be up: take it down before detaching
	}
	var kind PlanKind
	var newID backend.NetdevID
	switch {
	case keep == nil && !wantNone && len(detach) == 0:
		kind = KindPlug
	case keep == nil && !wantNone:
		kind = KindSwitch
	case wantNone && len(detach) > 0:
		kind = KindUnplug
	case len(detach) > 0: // the wanted backend and others attached
		kind = KindSwitch
	}
	// A macvtap cannot be created next to another with the same MAC on
	// the same parent (EADDRINUSE): for a move between two macvtaps of one
	// parent, break before make.
	breakFirst := keep == nil && want.Backend.Type == domain.TypeDirect &&
		cur.Backend.Type == domain.TypeDirect && cur.Backend.Dev == want.Backend.Dev && len(detach) > 0
	if keep == nil && !wantNone {
		newID = backend.BackendID(want.Device, maxGen+1, want.Backend)
		if !breakFirst {
			if err := b.prepare(want, newID); err != nil {
				return "", err
			}
		}
	}
	if len(detach) > 0 && link {
		if want.LinkUp && cur.LinkUp && p.adaptive() {
			// Arm the event that ends the hold early: QEMU reports a
			// NIC's filter change once, then not again until queried.
			b.add("arm", Action{Type: ActionQMP, Command: "query-rx-filter", Args: backend.Object("name", want.Device)})
		}
		b.add("down", setLink(want.Device, false), setLink(want.Device, true))
		link, unknown = false, false
	}
	wentDown := cur.LinkUp && !link
	for _, d := range detach {
		b.add("detach", netdevDel(d.Port), Action{Type: ActionQMP, Command: "netdev_add", Args: backend.HubPortArgs(d.Port, want.Hub, d.ID)})
	}
	if breakFirst {
		for _, d := range detach {
			if err := b.removeBackend(d, live, cur, want); err != nil {
				return "", err
			}
		}
		detach = nil
		if err := b.prepare(want, newID); err != nil {
			return "", err
		}
	}
	if keep == nil && !wantNone {
		port := newID.Port().String()
		b.add("attach", Action{Type: ActionQMP, Command: "netdev_add", Args: backend.HubPortArgs(port, want.Hub, newID.String())}, netdevDel(port))
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
	for _, d := range detach {
		if err := b.removeBackend(d, live, cur, want); err != nil {
			return "", err
		}
	}
	switch {
	case kind != "":
	case cleanups > 0:
		kind = KindCleanup
	case len(b.steps) > 0:
		kind = KindLink
	default:
		kind = KindNoop
	}
	return kind, nil
}

// wiredAsRecorded reports whether live shows exactly cur's backend (or
// none) attached and no leftovers were found.
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
func (b *planBuilder) prepare(want Wiring, id backend.NetdevID) error {
	steps, err := b.createSteps(want.Backend, want, id)
	if err != nil {
		return err
	}
	for _, s := range steps {
		b.add("prepare", s.Do, s.Undo...)
	}
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
				Do:   Action{Type: ActionHost, Op: OpCreateBridgeTap, Link: link, Bridge: spec.Bridge, MAC: w.MAC, Owner: owner},
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
func (b *planBuilder) removeBackend(d liveBackend, live NICState, cur, want Wiring) error {
	known := !cur.Backend.IsNone() && backend.SpecHash(cur.Backend) == d.id.Hash
	link := backend.LinkName(b.p.VM, want.Device, d.id.Gen)
	// A backend of a kind whose host link nicplug creates (known by its
	// hash) but whose link the host does not list: nothing to delete,
	// nothing to recreate it from; the plan reports the link missing.
	for _, spec := range []domain.Backend{cur.Backend, want.Backend} {
		if !spec.IsNone() && backend.SpecHash(spec) == d.id.Hash && !b.hasLink(live, spec, d.id) {
			b.missing = append(b.missing, link)
			b.add("finish", netdevDel(d.ID))
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
	b.add("finish", netdevDel(d.ID), undo...)
	switch {
	case known && need.Creates():
		b.add("finish", Action{Type: ActionHost, Op: OpDeleteLink, Link: link}, recreate[0].Do)
	case !known && d.Driver == "tap" && slices.Contains(live.HostLinks, link):
		b.add("finish", Action{Type: ActionHost, Op: OpDeleteLink, Link: link})
	}
	return nil
}

// Start plans a VM's start: attach each NIC's boot backend, set link down
// where the domain wants it down (QEMU starts every link up), then cont
// unless the VM already runs. live is the state read after QEMU started
// with -S.
func (p *Planner) Start(live *State, wants []Wiring) (*Plan, error) {
	b := &planBuilder{p: p}
	for _, w := range wants {
		ns, ok := live.NIC(w.Device)
		if !ok {
			return nil, fmt.Errorf("nicplug: NIC %s not found in QEMU", w.Device)
		}
		// QEMU boots every NIC with its link up and no backend. Once
		// the VM runs, the configured wiring is assumed and read-back
		// checks the backend part of it.
		cur := Wiring{Device: w.Device, Hub: w.Hub, MAC: w.MAC, Backend: domain.Backend{Type: domain.TypeNone}, LinkUp: true}
		if live.Running {
			cur = w
		}
		if _, err := b.update(*ns, cur, w, false); err != nil {
			return nil, err
		}
	}
	// Links go down before the guest runs: move set_link false steps
	// after the attaches is unnecessary, QEMU is stopped (-S) throughout.
	if !live.Running {
		b.add("resume", qmpAction("cont"), qmpAction("stop"))
	}
	return b.finish(KindStart, ""), nil
}
