package nicplug

import (
	"fmt"

	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// DefaultCarrierHold is the carrier hold of a switch when
// [Planner.CarrierHold] (or [Config.CarrierHold]) is zero: longer than
// NetworkManager's carrier debounce (it ignores carrier loss shorter than
// about 6 s, and was seen reacting 6.37 s after the drop, 7.08 s when the
// drop came soon after a plug's link-up), so that common guests see
// the cable pulled and re-run DHCP on the new network.
const DefaultCarrierHold = 8 * time.Second

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
	// DHCP. Zero means [DefaultCarrierHold] (8 s); negative means no hold.
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
	// (IPv4 only) never. Either kind of hold is stretched when applied
	// less than 1 s after the VM last set the NIC's link (the guest's
	// linkwatch may delay the drop that long); the plan shows the
	// configured hold.
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
