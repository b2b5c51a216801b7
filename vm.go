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
// of its plans), with the host links read again when a NIC is on the tap
// datapath or owns host links (a macvtap or bridge tap). Such a
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
