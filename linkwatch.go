package nicplug

import (
	"encoding/json"
	"time"
)

// Carrier holds and the guest kernel's linkwatch.
//
// A Linux guest learns of a carrier change through linkwatch, which hands
// non-urgent changes (a carrier loss is one) to userspace at most once a
// second: after a full run at time r, the next non-urgent change waits
// until r+1 s (linkwatch_nextevent). A carrier gain after a handled loss
// is urgent and handled at once, but a run made for urgent events alone
// does not move that second on. So the guest handles a drop at the later
// of when it comes and one second after the guest's last full run, which
// was the previous drop it handled, or a link-up that came when no drop
// was within the second before. A link-up that comes before the guest
// handled the drop is coalesced with it: userspace never sees the drop.
// The second is the guest kernel's, not the NIC's: one full run serves
// every device.
//
// Measured on the Debian guests: a move 0.5 s after the previous move's
// link-up (1.05 s after its drop) reached systemd-networkd 1.02 s after
// that earlier drop; NetworkManager reacted 6.96–7.08 s after a drop that
// came 0.1–0.4 s after a plug's link-up (6.37 s otherwise); a busybox
// guest saw a drop only if it lasted past ~1 s after the plug's link-up.
//
// So the executor replays every set_link it sends through that rule
// (linkwatchModel) and knows, for each drop, when the guest handles it at
// the earliest. A hold is stretched by the time until then: its minimum
// and maximum (adaptive) or its duration (fixed). A receive-filter change
// from before then is the guest still reacting to what came before (a
// link-up's multicast joins), not to the drop, and does not end the hold.
// The plan shows the configured hold; the stretch is the executor's
// decision. The model is in-process: a fresh VM (each nicplug command
// invocation) knows no earlier link event, and events nicplug did not
// cause (the guest's other devices) can only delay the guest further.

// linkwatchDelay is linkwatch's rate limit for non-urgent link changes:
// one full run a second.
const linkwatchDelay = time.Second

// linkwatchModel follows a Linux guest's linkwatch from the set_link
// commands sent to its NICs. The zero value knows no earlier event.
type linkwatchModel struct {
	// next is the guest's linkwatch_nextevent: no full run before it.
	next time.Time
	// down holds, for each NIC whose link nicplug took down, when the
	// guest handles (or handled) that drop.
	down map[string]time.Time
	// queued holds, for each NIC with a change waiting for a full run,
	// when that run comes. The run hands userspace the NIC's state then.
	queued map[string]time.Time
}

// drop records a set_link down of dev sent at t and returns when the
// guest handles it. A second drop of a NIC already down changes nothing.
func (m *linkwatchModel) drop(dev string, t time.Time) time.Time {
	if seen, ok := m.down[dev]; ok {
		return seen
	}
	if m.down == nil {
		m.down, m.queued = map[string]time.Time{}, map[string]time.Time{}
	}
	seen := t
	if run := m.queued[dev]; run.After(t) {
		seen = run // joins the change already waiting
	} else {
		if m.next.After(t) {
			seen = m.next
			m.queued[dev] = seen
		}
		m.next = seen.Add(linkwatchDelay)
	}
	m.down[dev] = seen
	return seen
}

// up records a set_link up of dev sent at t. A link-up while a change of
// the NIC waits for a full run joins it (the guest may then never see the
// drop); otherwise it runs at once, and that is a full run when no full
// run was within the second before.
func (m *linkwatchModel) up(dev string, t time.Time) {
	delete(m.down, dev)
	if m.queued[dev].After(t) {
		return
	}
	if !t.Before(m.next) {
		m.next = t.Add(linkwatchDelay)
	}
}

// linkDrop is a set_link down sent during a plan: the NIC and when the
// guest handles it.
type linkDrop struct {
	// dev is the NIC's device id.
	dev string
	// seen is when the guest handles it at the earliest: sent, or later
	// when linkwatch's second since its last full run is not over.
	seen time.Time
}

// clock returns the executor's time: e.now when set (tests), else the
// wall clock.
func (e *executor) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// noteLink replays the set_link action a, about to be sent at t, through
// the executor's linkwatch model. For a link-down it returns the drop;
// ok is false when a is no set_link this can read.
func (e *executor) noteLink(a Action, t time.Time) (d linkDrop, down, ok bool) {
	var args struct {
		Name string `json:"name"`
		Up   *bool  `json:"up"`
	}
	if a.Command != "set_link" || json.Unmarshal(a.Args, &args) != nil || args.Name == "" || args.Up == nil {
		return linkDrop{}, false, false
	}
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	if *args.Up {
		e.linkwatch.up(args.Name, t)
		return linkDrop{}, false, true
	}
	return linkDrop{dev: args.Name, seen: e.linkwatch.drop(args.Name, t)}, true, true
}

// visible is when the guest handles drop d; zero for no drop.
func (d *linkDrop) visible() time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.seen
}

// stretch is how much a hold starting at start is lengthened for drop d:
// the time from start until the guest handles the drop, never negative.
func (d *linkDrop) stretch(start time.Time) time.Duration {
	if d == nil || d.seen.IsZero() {
		return 0
	}
	return max(d.seen.Sub(start), 0)
}
