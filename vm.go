package nicplug

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// Config tunes a [VM]. A nil *Config means all defaults.
type Config struct {
	// Netns is the network namespace (path, e.g. /run/netns/x) where
	// host devices (macvtaps, taps, bridges) are created and looked up.
	// "" means the caller's.
	Netns string
	// CarrierHold is the longest a NIC's link stays down while it
	// switches backends, so that the guest notices and re-runs DHCP, see
	// [Planner.CarrierHold]; the hold ends earlier once the guest reacts
	// (see [Planner.FixedHold]). Zero means [DefaultCarrierHold] (7 s);
	// negative ([NoCarrierHold]) means no hold, which most guests do not
	// notice.
	CarrierHold time.Duration
	// FixedCarrierHold holds the link down for the whole CarrierHold
	// instead of ending the hold once the guest shows it noticed the
	// carrier loss ([Planner.FixedHold]).
	FixedCarrierHold bool
	// Announce sends announce-self after a plug or switch.
	Announce bool
	// Logger receives a debug record per step and warnings for failed
	// undos. nil discards.
	Logger *slog.Logger
	// Resolver resolves <interface type='network'>; nil makes it an error.
	// Its errors are runtime failures unless they wrap [ErrBadInput].
	Resolver domain.NetworkResolver
	// Host does the host side. nil means the netif-backed host in Netns.
	Host backend.Host
	// QMP tunes the monitor connection; nil means qmp's defaults.
	QMP *qmp.Config
	// UndoTimeout bounds the QMP part of a rollback, which runs even after
	// the caller's context is cancelled. Zero means 30 s.
	UndoTimeout time.Duration
	// UnknownLinks are device ids whose link state the caller does not
	// know although the domain says one, e.g. after a failed rollback:
	// the first plan of each sets its link explicitly, as after
	// [AttachRunning], and [VM.Interfaces] reports it unknown until then.
	UnknownLinks []string
	// HostUndoTimeout bounds the host part of a rollback (deleting the
	// devices a failed plan created), counting only the time host undos
	// take: a monitor that hangs through UndoTimeout does not use it up,
	// even between two host undos. UndoTimeout likewise counts only the
	// QMP undos' time. Zero means 10 s.
	HostUndoTimeout time.Duration
}

// VM is a running QEMU whose NICs nicplug manages. Updates to one VM are
// serialized; different VMs are independent. A VM is safe for concurrent
// use. It serializes only its own callers: it takes no lock across
// processes (the nicplug command flocks SOCK.nicplug-lock beside the
// monitor socket; a program sharing a VM with it can take the same lock),
// and QEMU serves one QMP client at a time.
type VM struct {
	name    string
	cfg     Config
	mon     Monitor
	closer  io.Closer
	exec    *executor
	planner Planner

	// mu serializes planning and applying, and protects the fields below.
	mu sync.Mutex
	// dom is the configuration in effect.
	dom *domain.Domain
	// links is the link state nicplug last set per device id (QEMU cannot
	// report it).
	links map[string]bool
	// linkUnknown marks the devices whose link state nicplug has not set
	// since it attached without the domain ([AttachRunning]).
	linkUnknown map[string]bool
	// linkSet marks the devices whose link state a plan applied on this
	// VM set (or, for start, left as QEMU booted it): only for those is
	// links[dev] known rather than the domain's wish.
	linkSet map[string]bool
	// known is the state as of the last full read-back, updated by each
	// plan applied since; nil after a failure (see readcache.go).
	known *State
	// epoch counts applied plans; a plan computed in an older epoch is
	// stale.
	epoch uint64
	// closed is set by Close.
	closed bool
	// checks are the checks PlanUpdate started whose reply may still be
	// due (see Close).
	checks []*qmp.Call
}

// ErrStalePlan is returned by [VM.Apply] for a plan computed before another
// plan was applied to the same VM, and matches the error of a plan whose
// check found QEMU changed since it was computed (by another client; see
// [VM.PlanUpdate]): nothing was changed, compute it again.
var ErrStalePlan = errors.New("nicplug: plan is stale, another plan was applied since")

// Attach connects to the QMP socket of a QEMU started with the domain's
// [domain.Domain.QEMUArgs] and manages its NICs. It does not change
// anything; call [VM.Start] on a VM started with -S. The domain XML is
// checked before QEMU is contacted; its errors wrap [ErrBadInput].
func Attach(ctx context.Context, qmpSocket string, domainXML []byte, cfg *Config) (*VM, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	dom, err := domain.ParseDomain(domainXML, &domain.ParseOptions{Resolver: markResolver(c.Resolver)})
	if err != nil {
		return nil, badInput("attach", err)
	}
	if dom.XML == nil || dom.XML.Name == "" {
		return nil, badInput("attach", errors.New("domain has no <name>"))
	}
	if c.Host == nil {
		c.Host = backend.NewNetifHost(c.Netns)
	}
	mon, err := qmp.Dial(ctx, qmpSocket, c.QMP)
	if err != nil {
		return nil, fmt.Errorf("nicplug: attach: %w", err)
	}
	v, err := newVM(mon, mon, dom, &c)
	if err != nil {
		mon.Close()
		return nil, err
	}
	return v, nil
}

// newVM makes a VM around a monitor (tests pass wrapped monitors).
func newVM(mon Monitor, closer io.Closer, dom *domain.Domain, c *Config) (*VM, error) {
	name := ""
	if dom.XML != nil {
		name = dom.XML.Name
	}
	if name == "" {
		return nil, errors.New("nicplug: attach: domain has no <name>")
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	undo, hostUndo := c.UndoTimeout, c.HostUndoTimeout
	if undo == 0 {
		undo = 30 * time.Second
	}
	if hostUndo == 0 {
		hostUndo = 10 * time.Second
	}
	v := &VM{
		name:    name,
		cfg:     *c,
		mon:     mon,
		closer:  closer,
		exec:    &executor{mon: mon, host: c.Host, log: log, undoTimeout: undo, hostUndoTimeout: hostUndo},
		planner: Planner{VM: name, CarrierHold: c.CarrierHold, FixedHold: c.FixedCarrierHold, Announce: c.Announce},
		dom:     dom,
		links:   map[string]bool{},

		linkUnknown: map[string]bool{},
		linkSet:     map[string]bool{},
	}
	for _, l := range dom.InitialLinks() {
		v.links[l.DeviceID] = l.Up
	}
	for _, dev := range c.UnknownLinks {
		v.linkUnknown[dev] = true
	}
	return v, nil
}

// Name is the domain name.
func (v *VM) Name() string { return v.name }

// Domain returns the configuration in effect (after the updates applied so
// far). The caller must not modify it.
func (v *VM) Domain() *domain.Domain {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.dom
}

// lock takes v.mu and fails if the VM is closed.
func (v *VM) lock() error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// PlanStart computes the plan that starts a VM launched with -S: attach
// the boot backends, set links down where the domain wants them down, cont.
func (v *VM) PlanStart(ctx context.Context) (*Plan, error) {
	if err := v.lock(); err != nil {
		return nil, err
	}
	defer v.mu.Unlock()
	return v.planStart(ctx)
}

func (v *VM) planStart(ctx context.Context) (*Plan, error) {
	st, err := v.readState(ctx)
	if err != nil {
		return nil, err
	}
	wants := make([]Wiring, len(v.dom.NICs))
	for i, n := range v.dom.NICs {
		wants[i] = WiringOf(n)
	}
	p, err := v.planner.Start(st, wants)
	if err != nil {
		return nil, err
	}
	v.own(p, func(v *VM) {
		for _, w := range wants {
			v.links[w.Device] = w.LinkUp
			delete(v.linkUnknown, w.Device)
			v.linkSet[w.Device] = true
		}
	})
	return p, nil
}

func (v *VM) own(p *Plan, commit func(*VM)) {
	p.owner, p.commit, p.epoch = v, commit, v.epoch
}

// Start computes and applies the start plan.
func (v *VM) Start(ctx context.Context) error {
	if err := v.lock(); err != nil {
		return err
	}
	defer v.mu.Unlock()
	p, err := v.planStart(ctx)
	if err != nil {
		return err
	}
	return v.apply(ctx, p)
}

// PlanUpdate computes the plan for an <interface> update (libvirt's
// UpdateDevice): the NIC is matched by alias, else MAC; what cannot change
// live is an error; such errors wrap [ErrBadInput] and change nothing.
//
// The plan is computed from the live state: read back from QEMU and the
// host for the first plan of a VM and after any failure, so it also cleans
// up after an interrupted plan; between plans applied without error, from
// what the VM knows of QEMU (the read-back kept current with the effects
// of its plans) and the host links of tap-datapath NICs read again. Such a
// plan is checked before any of its steps runs: PlanUpdate sends `info
// network` without waiting for the reply, [VM.Apply] queues the plan's
// first QMP command behind it and then collects the reply; if QEMU is not
// what the VM knew (another client changed a netdev), Apply undoes that
// command and fails with an error matching [ErrStalePlan]. A noop plan is
// checked before PlanUpdate returns it: it always means QEMU is as wanted.
func (v *VM) PlanUpdate(ctx context.Context, ifaceXML []byte) (*Plan, error) {
	if err := v.lock(); err != nil {
		return nil, err
	}
	defer v.mu.Unlock()
	return v.planUpdate(ctx, ifaceXML)
}

func (v *VM) planUpdate(ctx context.Context, ifaceXML []byte) (*Plan, error) {
	var pending *qmp.Call
	if v.known != nil {
		// The plan will be computed from what the VM knows: QEMU reads
		// its check meanwhile (a read, harmless if the update turns out
		// bad and its reply is never collected).
		var err error
		if pending, err = startCheck(ctx, v.mon); err != nil {
			v.forget()
			return nil, err
		}
		if pending != nil {
			v.checks = append(slices.DeleteFunc(v.checks, (*qmp.Call).Done), pending)
		}
	}
	old, next, err := resolveUpdate(v.dom, ifaceXML, markResolver(v.cfg.Resolver))
	if err != nil {
		return nil, err
	}
	st, basis, err := v.planState(ctx)
	if err != nil {
		return nil, err
	}
	cur := v.recorded(old)
	want := WiringOf(next.NICs[old.Index])
	live, _ := st.NIC(cur.Device)
	p, err := v.planner.Update(*live, cur, want)
	if err != nil {
		return nil, err
	}
	if basis != nil && len(p.Steps) == 0 {
		// Nothing to do, as far as the VM knows: make sure now, so that
		// a noop plan still means QEMU is as wanted (a reconciler
		// applies nothing else). The plan needs no check then.
		if err := v.checkNow(ctx, basis, pending); err != nil {
			var changed *changedError
			if !errors.As(err, &changed) {
				return nil, err
			}
			return v.planUpdate(ctx, ifaceXML) // forgotten: reads everything back
		}
		basis, pending = nil, nil
	}
	p.basis, p.check = basis, pending
	v.own(p, func(v *VM) {
		v.dom = next
		v.links[want.Device] = want.LinkUp
		delete(v.linkUnknown, want.Device)
		v.linkSet[want.Device] = true
	})
	return p, nil
}

// recorded is the wiring nicplug last set up for n.
func (v *VM) recorded(n *domain.NIC) Wiring {
	w := WiringOf(n)
	if up, ok := v.links[w.Device]; ok {
		w.LinkUp = up
	}
	w.LinkUnknown = v.linkUnknown[w.Device]
	return w
}

// Apply applies a plan this VM computed. On failure the steps done are
// undone in reverse and the error is a *[StepError] (matching
// [ErrInconsistent] when the rollback failed). A plan computed before
// another plan was applied is refused with [ErrStalePlan]; so is, after
// its first command was undone, a plan whose check found QEMU changed
// since it was computed (see [VM.PlanUpdate]). When every step
// ran but fd names QEMU still holds could not be closed, the plan counts
// as applied and the error matches [ErrInconsistent]; so it does, naming
// the link and the namespace looked in, when a host link the plan was to
// delete was not found (nothing was deleted: it may live in another
// network namespace than [Config.Netns]).
func (v *VM) Apply(ctx context.Context, p *Plan) error {
	if err := v.lock(); err != nil {
		return err
	}
	defer v.mu.Unlock()
	return v.apply(ctx, p)
}

func (v *VM) apply(ctx context.Context, p *Plan) error {
	if p.owner != v {
		return ErrForeignPlan
	}
	if p.epoch != v.epoch {
		return ErrStalePlan
	}
	var check func(string) error
	if p.basis != nil {
		check = func(text string) error { return checkBasis(text, p.basis) }
	}
	var leftover *appliedError
	if err := v.exec.apply(ctx, p, check); err != nil && !errors.As(err, &leftover) {
		v.forget()
		return err
	}
	v.epoch++
	p.commit(v)
	if leftover != nil {
		v.forget()
		return leftover
	}
	v.applied(p)
	return nil
}

// UpdateDevice plans and applies an <interface> update in one go. When the
// plan's check finds QEMU changed since the VM last read it (see
// [VM.PlanUpdate]), nothing was changed and UpdateDevice plans once more,
// from a full read-back.
func (v *VM) UpdateDevice(ctx context.Context, ifaceXML []byte) error {
	if err := v.lock(); err != nil {
		return err
	}
	defer v.mu.Unlock()
	p, err := v.planUpdate(ctx, ifaceXML)
	if err != nil {
		return err
	}
	err = v.apply(ctx, p)
	var changed *changedError
	var se *StepError
	if p.basis != nil && errors.As(err, &changed) && !errors.As(err, &se) {
		// QEMU changed behind the VM's back and nothing was done: plan
		// once more, from a full read-back.
		if p, err = v.planUpdate(ctx, ifaceXML); err != nil {
			return err
		}
		err = v.apply(ctx, p)
	}
	return err
}

// State reads the live wiring back from QEMU and the host.
func (v *VM) State(ctx context.Context) (*State, error) {
	if err := v.lock(); err != nil {
		return nil, err
	}
	defer v.mu.Unlock()
	return v.readState(ctx)
}

// readState reads everything back (see [readState]) and remembers it as
// what the VM knows; a failed read forgets.
func (v *VM) readState(ctx context.Context) (*State, error) {
	st, err := readState(ctx, v.mon, v.exec.host, v.name, v.dom)
	if err != nil {
		v.forget()
		return nil, err
	}
	v.remember(st)
	return st, nil
}

// Interface is one NIC's live wiring, as [VM.Interfaces] reports it.
//
// # Link state
//
// LinkUp is the state nicplug last set, not read back: QEMU 7.2 has no way
// to report a NIC's link state. set_link only flips the net client's
// link_down flag (and, for virtio-net, the VIRTIO_NET_S_LINK_UP bit of the
// device's config space, seen by the guest); `info network` prints
// name/index/type/model/macaddr and no link; qom-list/qom-get expose no
// such property (virtio-net's "status" is the VIRTIO_NET_F_STATUS feature
// bit, true either way); query-rx-filter reports filters only; and
// x-query-virtio-status reports the virtio device status, features and
// ISR, not the config space: its output is identical before and after
// set_link (checked on 7.2). Only the guest-visible config space holds the
// bit, which QMP cannot read. So a VM remembers each link state it sets,
// starting from the domain's <link state>, and after an interrupted plan
// the next plan sets the link explicitly instead of trusting the record.
type Interface struct {
	// Device is the QEMU device id.
	Device string
	// MAC is the MAC QEMU reports.
	MAC string
	// Hub is the NIC's hub id (-1 if it has none).
	Hub int
	// LinkUp is the link state nicplug last set on this VM; before any
	// plan set it, the domain's <link state> (see LinkUnknown).
	LinkUp bool
	// LinkUnknown reports that no plan applied on this VM (since [Attach]
	// or [AttachRunning]) has set the NIC's link: LinkUp is then what the
	// domain asks for, or a guess without the domain, not QEMU's state,
	// which no query reports (QEMU boots every link up; a plan interrupted
	// in another process may have left it down).
	LinkUnknown bool
	// BackendID is the attached backend netdev, "" when unplugged.
	BackendID string
	// Driver is QEMU's type of the attached backend (tap, user, socket).
	Driver string
	// Backend is the attached backend's spec when it is the configured one
	// (its hash matches); Type none when unplugged; zero when unknown.
	// On the tap datapath it is what the host shows the fixed tap plugged
	// into, whatever the domain says; zero when the plumbing is half done
	// (an interrupted plan, which the next plan completes or removes).
	Backend domain.Backend
	// Datapath is the NIC's datapath (hub or tap).
	Datapath domain.Datapath
	// Tap is the fixed tap's name on the tap datapath, "" on the hub.
	Tap string
	// Plug is what the fixed tap is plugged into on the host (tap
	// datapath only).
	Plug backend.TapPlug
}

// Interfaces reads back every NIC's live wiring.
func (v *VM) Interfaces(ctx context.Context) ([]Interface, error) {
	if err := v.lock(); err != nil {
		return nil, err
	}
	defer v.mu.Unlock()
	st, err := v.readState(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(st.NICs))
	for i, ns := range st.NICs {
		it := Interface{Device: ns.Device, MAC: ns.MAC, Hub: ns.Hub, LinkUp: v.links[ns.Device],
			LinkUnknown: v.linkUnknown[ns.Device] || !v.linkSet[ns.Device], Backend: domain.Backend{Type: domain.TypeNone}}
		it.Datapath = ns.Datapath
		if ns.Tap != nil {
			it.Tap, it.Plug, it.Driver = ns.Tap.Name, ns.Tap.Plug, "tap"
			if b, ok := ns.Tap.Backend(); ok {
				it.Backend = b
			} else {
				it.Backend = domain.Backend{}
			}
		} else if b, ok := ns.Attached(); ok {
			it.BackendID, it.Driver, it.Backend = b.ID, b.Driver, domain.Backend{}
			id, _ := backend.ParseNetdevID(b.ID)
			if cfg := v.dom.NICs[i].Backend(); !cfg.IsNone() && backend.SpecHash(cfg) == id.Hash {
				it.Backend = cfg
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// Close closes the monitor connection. It does not stop QEMU or remove
// anything.
func (v *VM) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	// A check that PlanUpdate started for a plan never applied is still
	// with QEMU: collect its reply first (briefly), or QEMU 10.0 hands it
	// to the monitor's next client.
	ctx, cancel := context.WithTimeout(context.Background(), closeDrainTimeout)
	defer cancel()
	for _, c := range v.checks {
		if !c.Done() {
			c.Wait(ctx)
		}
	}
	v.checks = nil
	return v.closer.Close()
}

// closeDrainTimeout bounds how long [VM.Close] waits for the replies to
// checks nobody collected.
const closeDrainTimeout = time.Second
