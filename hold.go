package nicplug

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nicplug/nicplug/qmp"
)

// A carrier hold that ends when the guest reacts.
//
// A switch keeps the NIC's link down long enough for the guest's network
// stack to notice and let go of its old lease. How long that is depends on
// the stack: systemd-networkd drops its addresses within ~0.1 s,
// NetworkManager only after its 6 s carrier-wait-timeout. Both then change
// the NIC's receive filter (IPv6 and LLDP multicast memberships go), which
// virtio-net reports as NIC_RX_FILTER_CHANGED. The planner arms that event
// (query-rx-filter: QEMU reports a filter change once, then not again
// until queried) before the link goes down, and the hold ends at the first
// such event after the drop, once MinCarrierHold has passed, or at its
// full duration, whichever comes first. Monitors without events (test
// wrappers) hold for the full duration. A drop soon after the guest's
// previous link change is handled late by the guest: see linkwatch.go.

// holdStretched is the debug message of a hold stretched until the guest
// handles the drop (see linkwatch.go).
const holdStretched = "nicplug: carrier hold stretched: the guest's linkwatch handles the drop only when its second since the last full run is over"

// eventMonitor is a [Monitor] that reports QMP events, like *qmp.Client.
type eventMonitor interface {
	Watch(match func(qmp.Event) bool) *qmp.Watcher
}

// reaction watches one NIC for the event that ends a hold. Only the
// executor's goroutine uses it.
type reaction struct {
	mon   Monitor
	em    eventMonitor
	match func(qmp.Event) bool
	w     *qmp.Watcher
	// arm is the arm step's query-rx-filter, sent again to re-arm.
	arm Action
	// dev is the NIC's device id.
	dev string
	// down is when the link went down (zero before): events from before
	// do not count.
	down time.Time
}

// noteHold is called before each QMP action: an arm step (query-rx-filter)
// starts watching for the NIC's filter change, and the NIC's set_link
// down marks the moment from which a change counts. Every set_link is
// remembered as its NIC's latest link event (see linkwatch.go).
func (e *executor) noteHold(a Action, rs *runState) {
	switch a.Command {
	case "query-rx-filter":
		var args struct {
			Name string `json:"name"`
		}
		em, ok := e.mon.(eventMonitor)
		if !ok || rs.reaction != nil || json.Unmarshal(a.Args, &args) != nil {
			return
		}
		dev := args.Name
		r := &reaction{mon: e.mon, em: em, arm: a, dev: dev, match: func(ev qmp.Event) bool {
			var d struct {
				Name string `json:"name"`
			}
			return ev.Name == rxFilterChanged && json.Unmarshal(ev.Data, &d) == nil && d.Name == dev
		}}
		r.w = em.Watch(r.match)
		rs.reaction = r
	case "set_link":
		now := e.clock()
		d, down, ok := e.noteLink(a, now)
		if !ok || !down {
			return
		}
		rs.drop = &d
		if r := rs.reaction; r != nil && r.dev == d.dev && r.down.IsZero() {
			r.down = now
		}
	}
}

// waitReaction holds for at least a.Min and at most d, ending at the
// guest's reaction; QEMU going away ends it with an error. When the guest
// handles the drop only later (linkwatch.go), both bounds are stretched by
// the time until then, and a filter change from before then (or from
// before the link went down) does not count: the watch is re-armed at
// once.
func (e *executor) waitReaction(ctx context.Context, a Action, d time.Duration, rs *runState) error {
	r := rs.reaction
	floor, err := time.ParseDuration(a.Min)
	if err != nil {
		return fmt.Errorf("nicplug: wait: min: %w", err)
	}
	start := e.clock()
	from := r.down
	if from.IsZero() {
		from = start
	}
	if seen := rs.drop.visible(); seen.After(from) {
		from = seen
	}
	if s := rs.drop.stretch(start); s > 0 {
		e.log.Debug(holdStretched, "device", rs.drop.dev, "min", floor, "max", d, "stretch", s)
		floor, d = floor+s, d+s
	}
	wctx, cancel := context.WithTimeout(ctx, d-e.clock().Sub(start))
	defer cancel()
	for {
		// Watch from the start, not only once the floor has passed: a
		// change from before the drop was visible must be re-armed at
		// once, or QEMU would not report the guest's reaction to it.
		ev, err := r.w.Wait(wctx)
		if err == nil {
			at := ev.Time
			if at.IsZero() {
				at = e.clock()
			}
			if !at.Before(from) {
				if err := e.sleep(ctx, min(floor, d)-e.clock().Sub(start)); err != nil {
					return err
				}
				e.log.Debug("nicplug: carrier hold ended: the guest changed its receive filter", "event", ev.Name,
					"after", e.clock().Sub(start), "max", d)
				return nil
			}
			// The guest reacting to the link event before the drop (or
			// to nothing nicplug did): QEMU reports the next change only
			// once queried again.
			e.log.Debug("nicplug: carrier hold: ignored a receive filter change from before the drop was visible",
				"device", r.dev, "at", at, "counts from", from)
			err = r.rearm(wctx)
		}
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return fmt.Errorf("nicplug: wait: %w", ctx.Err())
		case errors.Is(err, context.DeadlineExceeded):
			e.log.Debug("nicplug: carrier hold ran its full duration: no reaction seen", "max", d)
			return nil
		case errors.Is(err, qmp.ErrClosed):
			return fmt.Errorf("nicplug: wait: QEMU went away during the %s carrier hold: %w", a.Duration, err)
		}
		return fmt.Errorf("nicplug: wait: %w", err)
	}
}

// sleep waits for d (nothing when d <= 0) unless ctx ends first.
func (e *executor) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nicplug: wait: %w", ctx.Err())
	}
}

// rearm watches for the NIC's next filter change and queries its filter,
// which lets QEMU report the next change. QEMU refusing the query leaves
// the hold to run its full duration.
func (r *reaction) rearm(ctx context.Context) error {
	r.w.Stop()
	r.w = r.em.Watch(r.match)
	_, err := r.mon.Execute(ctx, r.arm.Command, r.arm.Args)
	var ce *qmp.CommandError
	if errors.As(err, &ce) {
		return nil
	}
	return err
}

// stopWatch releases the reaction watcher, if any.
func (rs *runState) stopWatch() {
	if rs.reaction != nil {
		rs.reaction.w.Stop()
	}
}
