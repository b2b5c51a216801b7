package bench

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/lab"
	"github.com/nicplug/nicplug/qmp"
)

// defaultStackHolds are the fixed carrier holds the stacks part tries per
// stack, around what each stack needs (README "Carrier hold"), besides the
// default adaptive hold (at most 8 s, ending when the guest reacts), which
// it always tries. NoCarrierHold is "none".
var defaultStackHolds = map[guest.Stack][]time.Duration{
	guest.StackNetworkd:       {nicplug.NoCarrierHold, 50 * time.Millisecond, 300 * time.Millisecond, nicplug.DefaultCarrierHold},
	guest.StackNetworkManager: {time.Second, 5 * time.Second, 6500 * time.Millisecond, nicplug.DefaultCarrierHold},
}

// stackSettle is how long after the guest's first ping the settled moves
// start: past the guest kernel's linkwatch second (see the nicplug
// package's linkwatch.go), which a move right after a plug or a move
// waits for.
const stackSettle = 2 * time.Second

// stackNet is one network a distribution guest is moved between.
type stackNet struct {
	name   string
	xml    []byte
	subnet netip.Prefix
	gw     netip.Addr
}

// stackMove is the result of one move: whether the guest ended on the new
// network and when it first pinged the new gateway.
type stackMove struct {
	moved bool
	ping  time.Duration
}

// runStacks measures, on the Debian guests with systemd-networkd and with
// NetworkManager, a plug and moves between QEMU's user network and a
// macvtap LAN with its own DHCP server (package lab: private network
// namespaces, so concurrent runs cannot disturb it) for several carrier
// holds, both directions, against device_del + device_add of the NIC on
// the same guest.
func runStacks(ctx context.Context, r *Report, trials int, holds map[guest.Stack][]time.Duration, progress func(string, ...any)) error {
	if !isRoot() {
		r.add(Row{Part: "7 stacks", Name: "distribution guests", Note: "needs root (mmdebstrap, macvtap)"})
		return nil
	}
	if holds == nil {
		holds = defaultStackHolds
	}
	n, err := lab.NewNetwork(ctx, nil)
	if err != nil {
		return err
	}
	defer n.Close()
	user := stackNet{"user", []byte(ifaceXML(guestMAC, "user", "")), netip.MustParsePrefix("10.0.2.0/24"), netip.MustParseAddr("10.0.2.2")}
	lan := stackNet{"direct", []byte(ifaceXML(guestMAC, "direct", fmt.Sprintf("<source dev='%s' mode='bridge'/>", n.Parent))),
		n.Subnet, n.Router}
	for _, stack := range []guest.Stack{guest.StackNetworkd, guest.StackNetworkManager} {
		progress("stacks: building the %s guest (cached)", stack)
		a, err := guest.BuildDistro(ctx, stack, nil)
		if err != nil {
			return err
		}
		if err := stackMoves(ctx, r, a, stack, trials, holds[stack], n.Netns, user, lan, progress); err != nil {
			return fmt.Errorf("%s: %w", stack, err)
		}
	}
	return nil
}

// stackMoves boots one guest of stack and fills its rows.
func stackMoves(ctx context.Context, r *Report, a *guest.Assets, stack guest.Stack, trials int, holds []time.Duration,
	netns string, user, lan stackNet, progress func(string, ...any)) error {
	progress("stacks: %s: boot, plug, moves with holds %v, %d trials each", stack, holds, trials)
	g, vm, err := nicplugGuest(ctx, a, ifaceXML(guestMAC, "none", ""), &nicplug.Config{Netns: netns, CarrierHold: nicplug.NoCarrierHold})
	if err != nil {
		return err
	}
	defer g.Close()
	defer func() { vm.Close() }()
	// The stack's daemon starts after the reporter's ready: let it settle
	// so the plug measures the stack, not its start-up.
	time.Sleep(5 * time.Second)
	var plug samples
	seq, t0 := g.Seq(), time.Now()
	if err := vm.UpdateDevice(ctx, user.xml); err != nil {
		return err
	}
	m, err := waitMoved(ctx, g, seq, t0, user, time.Minute)
	if err != nil {
		return err
	}
	if !m.moved {
		return fmt.Errorf("bench: plug into %s: no address there within a minute", user.name)
	}
	plug = append(plug, m.ping)
	r.add(Row{Part: "7 stacks", Name: fmt.Sprintf("%s: plug none→user: first ping", stack), N: 1, Value: fmtDur(m.ping),
		Note: "from UpdateDevice start (carrier → lease → ping)"})

	cur, applied := user, user.xml // the network the guest is on; the last update applied
	hp, err := stackHotplug(ctx, a, trials)
	if err != nil {
		return err
	}
	type holdCase struct {
		d     time.Duration
		fixed bool
		// settle is how long after the guest's first ping on the old
		// network each move starts; 0 means at once.
		settle time.Duration
	}
	// The default (adaptive, at most 8 s) both right after the first ping,
	// like every row, and once the guest's linkwatch second is over.
	cases := []holdCase{{0, false, 0}, {0, false, stackSettle}}
	for _, h := range holds {
		cases = append(cases, holdCase{h, true, 0})
	}
	for _, hc := range cases {
		hold := hc.d
		name := "adaptive ≤" + holdOf(hold).String() + " (default)"
		if hc.fixed {
			name = "fixed " + holdName(hold)
		}
		when := "right after the first ping"
		if hc.settle > 0 {
			when = fmt.Sprintf("%v after the first ping", hc.settle)
			name += fmt.Sprintf(", %v after the ping", hc.settle)
		}
		// One VM per hold: the hold is a VM setting. Re-attach with the
		// domain as it now is.
		vm.Close()
		if vm, err = reattach(ctx, g, applied, netns, hold, hc.fixed); err != nil {
			return err
		}
		for _, dir := range [][2]stackNet{{user, lan}, {lan, user}} {
			var moved int
			var pings samples
			for range trials {
				if cur.name != dir[0].name {
					if err := ensureOn(ctx, g, vm, dir[0]); err != nil {
						return err
					}
					cur, applied = dir[0], dir[0].xml
				}
				time.Sleep(hc.settle)
				seq, t0 := g.Seq(), time.Now()
				if err := vm.UpdateDevice(ctx, dir[1].xml); err != nil {
					return err
				}
				cur, applied = dir[1], dir[1].xml
				m, err := waitMoved(ctx, g, seq, t0, dir[1], holdOf(hold)+20*time.Second)
				if err != nil {
					return err
				}
				if m.moved {
					moved++
					pings = append(pings, m.ping)
				} else {
					// Stuck on the old address: bring it back to a
					// known state for the next trial.
					cur = stackNet{name: "stuck"}
				}
			}
			value := fmt.Sprintf("moved %d/%d", moved, trials)
			ratioS := ""
			if len(pings) > 0 {
				value += ", first ping p50 " + fmtDur(pings.pct(50))
				ratioS = ratio(pings.pct(50), hp.pct(50))
			} else {
				value += ": stuck on the old address"
			}
			r.add(Row{Part: "7 stacks", Name: fmt.Sprintf("%s: move %s→%s, hold %s", stack, dir[0].name, dir[1].name, name),
				N: trials, Value: value, Baseline: "first ping p50 " + fmtDur(hp.pct(50)), Ratio: ratioS,
				Note: "move " + when + "; from UpdateDevice start; baseline device_del + device_add (fresh user netdev), same guest image"})
		}
	}
	return nil
}

// holdOf is the hold a VM with CarrierHold hold waits.
func holdOf(hold time.Duration) time.Duration {
	switch {
	case hold < 0:
		return 0
	case hold == 0:
		return nicplug.DefaultCarrierHold
	}
	return hold
}

func holdName(hold time.Duration) string {
	if hold < 0 {
		return "none"
	}
	return holdOf(hold).String()
}

// reattach attaches a new VM with carrier hold hold to g, whose NIC got
// the update applied last.
func reattach(ctx context.Context, g *guest.Guest, applied []byte, netns string, hold time.Duration, fixed bool) (*nicplug.VM, error) {
	return nicplug.Attach(ctx, g.QMPSocket(), domainXML("guest", string(applied)),
		&nicplug.Config{Netns: netns, CarrierHold: hold, FixedCarrierHold: fixed})
}

// ensureOn puts the guest on n: unplugged until it holds no address (a
// guest stuck on an old lease lets go of it once carrier is gone long
// enough), then plugged into n until it pings n's gateway.
func ensureOn(ctx context.Context, g *guest.Guest, vm *nicplug.VM, n stackNet) error {
	if err := vm.UpdateDevice(ctx, []byte(ifaceXML(guestMAC, "none", ""))); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ectx, cancel := context.WithTimeout(ctx, guestWait)
		out, _, err := g.Exec(ectx, "ip -4 -o addr show dev eth0")
		cancel()
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) == "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	seq, t0 := g.Seq(), time.Now()
	if err := vm.UpdateDevice(ctx, n.xml); err != nil {
		return err
	}
	m, err := waitMoved(ctx, g, seq, t0, n, time.Minute)
	if err != nil {
		return err
	}
	if !m.moved {
		return fmt.Errorf("bench: guest did not reach %s after an unplug", n.name)
	}
	return nil
}

// waitMoved waits up to d for the guest to hold an address in n's subnet
// and ping n's gateway after it, counting from event seq and time t0.
func waitMoved(ctx context.Context, g *guest.Guest, seq int, t0 time.Time, n stackNet, d time.Duration) (stackMove, error) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	onNet := false
	for ev, err := range g.Watch(wctx, seq) {
		if err != nil {
			if ctx.Err() != nil {
				return stackMove{}, err
			}
			return stackMove{}, nil // not within d: stuck
		}
		switch ev.Kind {
		case guest.KindAddr:
			if p, err := netip.ParsePrefix(ev.Arg(0)); err == nil && n.subnet.Contains(p.Addr()) {
				onNet = true
			}
		case guest.KindPing:
			if onNet && ev.Arg(0) == n.gw.String() && ev.Arg(1) == "ok" {
				return stackMove{moved: true, ping: ev.Time.Sub(t0)}, nil
			}
		}
	}
	return stackMove{}, fmt.Errorf("bench: guest event stream ended")
}

// stackHotplug measures device_del + device_add of the NIC (on a PCIe root
// port, a fresh user netdev each time) on a guest of the same image: time
// from device_del to the first ping of 10.0.2.2.
func stackHotplug(ctx context.Context, a *guest.Assets, iters int) (samples, error) {
	g, err := guest.Boot(ctx, &guest.Config{Assets: a, ExtraArgs: hotplugArgs})
	if err != nil {
		return nil, err
	}
	defer g.Close()
	user := stackNet{"user", nil, netip.MustParsePrefix("10.0.2.0/24"), netip.MustParseAddr("10.0.2.2")}
	if m, err := waitMoved(ctx, g, 0, time.Now(), user, 3*time.Minute); err != nil || !m.moved {
		return nil, fmt.Errorf("bench: hot-plug guest never got on the user network: %v", err)
	}
	c, err := qmp.Dial(ctx, g.QMPSocket(), nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out samples
	for i := range iters {
		seq, t0 := g.Seq(), time.Now()
		if _, _, err := replaceNIC(ctx, c, i); err != nil {
			return nil, err
		}
		m, err := waitMoved(ctx, g, seq, t0, user, time.Minute)
		if err != nil {
			return nil, err
		}
		if !m.moved {
			return nil, fmt.Errorf("bench: hot-plugged NIC never got on the user network")
		}
		out = append(out, m.ping)
	}
	return out, nil
}
