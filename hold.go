package nicplug

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
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
// wrappers) hold for the full duration.

// eventMonitor is a [Monitor] that reports QMP events, like *qmp.Client.
type eventMonitor interface {
	Watch(match func(qmp.Event) bool) *qmp.Watcher
}

// reaction watches one NIC for the event that ends a hold.
type reaction struct {
	w *qmp.Watcher
	// down is when the link went down (UnixNano; 0 before): events from
	// before do not count.
	down atomic.Int64
}

// noteHold is called before each QMP action: an arm step (query-rx-filter)
// starts watching for the NIC's filter change, and the NIC's set_link
// down marks the moment from which a change counts.
func (e *executor) noteHold(a Action, rs *runState) {
	var args struct {
		Name string `json:"name"`
		Up   *bool  `json:"up"`
	}
	switch a.Command {
	case "query-rx-filter":
		em, ok := e.mon.(eventMonitor)
		if !ok || rs.reaction != nil || json.Unmarshal(a.Args, &args) != nil {
			return
		}
		r := &reaction{}
		dev := args.Name
		r.w = em.Watch(func(ev qmp.Event) bool {
			var d struct {
				Name string `json:"name"`
			}
			down := r.down.Load()
			return ev.Name == rxFilterChanged && down != 0 && !ev.Time.Before(time.Unix(0, down)) &&
				json.Unmarshal(ev.Data, &d) == nil && d.Name == dev
		})
		rs.reaction = r
	case "set_link":
		if rs.reaction != nil && json.Unmarshal(a.Args, &args) == nil && args.Up != nil && !*args.Up {
			rs.reaction.down.CompareAndSwap(0, time.Now().UnixNano())
		}
	}
}

// waitReaction holds for at least a.Min and at most d, ending at the
// guest's reaction; QEMU going away ends it with an error.
func (e *executor) waitReaction(ctx context.Context, a Action, d time.Duration, r *reaction) error {
	floor, err := time.ParseDuration(a.Min)
	if err != nil {
		return fmt.Errorf("nicplug: wait: min: %w", err)
	}
	start := time.Now()
	t := time.NewTimer(min(floor, d))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return fmt.Errorf("nicplug: wait: %w", ctx.Err())
	}
	wctx, cancel := context.WithTimeout(ctx, d-time.Since(start))
	defer cancel()
	ev, err := r.w.Wait(wctx)
	switch {
	case err == nil:
		e.log.Debug("nicplug: carrier hold ended: the guest changed its receive filter", "event", ev.Name,
			"after", time.Since(start), "max", d)
		return nil
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

// stopWatch releases the reaction watcher, if any.
func (rs *runState) stopWatch() {
	if rs.reaction != nil {
		rs.reaction.w.Stop()
	}
}
