package lab

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/nicplug/nicplug/internal/guest"
)

// Connected is what the guest reported after a plug or a switch, each event
// stamped with the host time it was read.
type Connected struct {
	// Carrier is the "carrier 1" event.
	Carrier guest.Event
	// Lease is the first lease after it.
	Lease guest.Event
	// Addr is the lease's address and prefix.
	Addr netip.Prefix
	// Router is the lease's router.
	Router netip.Addr
	// Ping is the guest's ping of Router after the lease, "ok".
	Ping guest.Event
	// Down is the "carrier 0" event seen before Carrier, if any (a switch
	// takes the link down first).
	Down *guest.Event
}

// WaitConnected waits for what a plug or switch applied after event from
// must cause: carrier up, then a DHCP lease inside subnet, then a successful
// ping of the lease's router. A lease outside subnet or a failed ping is an
// error at once; so is the end of ctx.
func WaitConnected(ctx context.Context, g *guest.Guest, from int, subnet netip.Prefix) (*Connected, error) {
	var c Connected
	for ev, err := range g.Watch(ctx, from) {
		if err != nil {
			return nil, fmt.Errorf("lab: waiting for %s after event %d: %w", c.next(), from, err)
		}
		switch {
		case ev.Kind == guest.KindCarrier && ev.Arg(0) == "0" && c.Carrier.Kind == "":
			c.Down = &ev
		case ev.Kind == guest.KindCarrier && ev.Arg(0) == "1":
			c = Connected{Carrier: ev, Down: c.Down}
		case ev.Kind == guest.KindCarrier && ev.Arg(0) == "0":
			return nil, fmt.Errorf("lab: carrier went down again after %q", c.Carrier.Raw)
		case ev.Kind == guest.KindLease && c.Carrier.Kind != "" && c.Lease.Kind == "":
			addr, err := netip.ParsePrefix(ev.Arg(0))
			if err != nil {
				return nil, fmt.Errorf("lab: bad lease event %q: %w", ev.Raw, err)
			}
			if !subnet.Contains(addr.Addr()) {
				return nil, fmt.Errorf("lab: guest leased %s, want an address in %s", addr, subnet)
			}
			router, err := netip.ParseAddr(ev.Fields["router"])
			if err != nil {
				return nil, fmt.Errorf("lab: lease event %q has no router: %w", ev.Raw, err)
			}
			c.Lease, c.Addr, c.Router = ev, addr, router
		case ev.Kind == guest.KindPing && c.Lease.Kind != "" && ev.Arg(0) == c.Router.String():
			if ev.Arg(1) != "ok" {
				return nil, fmt.Errorf("lab: guest's ping of %s after lease %s failed: %q", c.Router, c.Addr, ev.Raw)
			}
			c.Ping = ev
			return &c, nil
		case ev.Kind == guest.KindError:
			return nil, fmt.Errorf("lab: guest reported %q", ev.Raw)
		}
	}
	return nil, fmt.Errorf("lab: event stream ended waiting for %s", c.next())
}

// next names what WaitConnected waits for.
func (c *Connected) next() string {
	switch {
	case c.Carrier.Kind == "":
		return "carrier 1"
	case c.Lease.Kind == "":
		return "a lease"
	default:
		return "the ping of " + c.Router.String()
	}
}

// Disconnected is what the guest reported after an unplug or link down.
type Disconnected struct {
	// Carrier is the "carrier 0" event.
	Carrier guest.Event
	// Deconfig is the "deconfig" event after it: DHCP client stopped,
	// addresses flushed.
	Deconfig guest.Event
}

// WaitDisconnected waits for carrier 0 and then deconfig after event from.
func WaitDisconnected(ctx context.Context, g *guest.Guest, from int) (*Disconnected, error) {
	var d Disconnected
	for ev, err := range g.Watch(ctx, from) {
		if err != nil {
			want := "carrier 0"
			if d.Carrier.Kind != "" {
				want = "deconfig"
			}
			return nil, fmt.Errorf("lab: waiting for %s after event %d: %w", want, from, err)
		}
		switch {
		case ev.Kind == guest.KindCarrier && ev.Arg(0) == "0":
			d.Carrier = ev
		case ev.Kind == guest.KindCarrier && ev.Arg(0) == "1" && d.Carrier.Kind != "":
			return nil, fmt.Errorf("lab: carrier came back up after %q", d.Carrier.Raw)
		case ev.Kind == guest.KindDeconfig && d.Carrier.Kind != "":
			d.Deconfig = ev
			return &d, nil
		}
	}
	return nil, fmt.Errorf("lab: event stream ended waiting for carrier 0")
}
