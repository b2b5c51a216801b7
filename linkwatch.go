package nicplug

import (
	"encoding/json"
	"time"
)

// Carrier holds and the guest kernel's linkwatch.
//
// A Linux guest learns of a carrier change through linkwatch, which runs
// at most once a second per device for non-urgent changes (carrier down is
// one: linkwatch_fire_event rate-limits "to once per second"). A drop that
// comes less than linkwatchDelay after the NIC's previous link event
// reaches the guest's userspace only once that second is over, and a drop
// that ends within it may be coalesced and never reach userspace at all.
// Measured: a busybox guest saw a drop only if it lasted past ~1 s after
// the previous link-up; NetworkManager reacted 6.96–7.08 s after a drop
// that came 0.1–0.4 s after the previous link-up (6.37 s otherwise).
//
// So the executor remembers, per NIC, when it last sent the NIC a set_link
// (up or down), and a hold that starts less than linkwatchDelay after the
// NIC's link event before the drop is stretched by what is left of that
// window: its minimum and maximum (adaptive) or its duration (fixed). A
// receive-filter change from within the window is the guest still reacting
// to the previous link event (joining multicast groups), not to the drop,
// and does not end the hold. The plan shows the configured hold; the
// stretch is the executor's decision. The memory is in-process: a fresh VM
// (each nicplug command invocation) knows no previous link event.

// linkwatchDelay is how long after a NIC's link event a Linux guest may
// delay the next non-urgent carrier change (a drop): linkwatch's once a
// second.
const linkwatchDelay = time.Second

// linkDrop is a set_link down sent during a plan: the carrier hold after
// it is measured against the NIC's link event before it.
type linkDrop struct {
	// dev is the NIC's device id.
	dev string
	// prev is when the executor last sent the NIC a set_link before this
	// one; zero if it never did.
	prev time.Time
}

// clock returns the executor's time: e.now when set (tests), else the
// wall clock.
func (e *executor) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// noteLink records the set_link action a, about to be sent at t, as its
// NIC's latest link event, and returns the NIC's previous one (zero if
// none), the device, and whether the link goes down. ok is false when a
// is no set_link this can read.
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
	if e.lastLink == nil {
		e.lastLink = map[string]time.Time{}
	}
	d = linkDrop{dev: args.Name, prev: e.lastLink[args.Name]}
	e.lastLink[args.Name] = t
	return d, !*args.Up, true
}

// windowEnd is the end of the linkwatch window of drop d: until then the
// guest may not have seen the drop. Zero when no previous event is known.
func (d *linkDrop) windowEnd() time.Time {
	if d == nil || d.prev.IsZero() {
		return time.Time{}
	}
	return d.prev.Add(linkwatchDelay)
}

// stretch is how much a hold starting at start is lengthened for drop d:
// what is left of its linkwatch window then, never negative.
func (d *linkDrop) stretch(start time.Time) time.Duration {
	end := d.windowEnd()
	if end.IsZero() {
		return 0
	}
	return max(end.Sub(start), 0)
}
