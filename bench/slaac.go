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
)

// slaacNet is a network a guest is moved between, with the IPv6 prefix
// its router advertises.
type slaacNet struct {
	name   string
	xml    []byte
	prefix netip.Prefix
	router netip.Addr
}

// addr6 is one IPv6 address on the guest's eth0, from ip -6 -o addr.
type addr6 struct {
	p     netip.Prefix
	flags string // "tentative", "deprecated", "dynamic" … and the lifetimes
}

// slaacMove is what one move did to the guest's IPv6 addresses.
type slaacMove struct {
	newAt   time.Duration // first usable address in the new prefix; <0: none within the wait
	hadNew  bool          // that address was there before the move (kept from an earlier visit)
	oldGone time.Duration // the old prefix's addresses gone; <0: kept through the wait
	oldLeft string        // what was left of them, with flags
	ping    bool          // the new router answered a ping over IPv6
	rs      int           // router solicitations eth0 sent (Icmp6OutRouterSolicits)
}

// slaacKeep is how long a move watches an old prefix's address after the
// new one appeared, to tell "dropped late" from "kept".
const slaacKeep = 10 * time.Second

// StackBusybox names the busybox test guest among distribution stacks
// (Options.SlaacStacks): no network daemon, the kernel's own SLAAC.
const StackBusybox guest.Stack = ""

// runSlaac measures IPv6 autoconfiguration across moves between QEMU's user
// network (libslirp advertises fec0::/64) and a macvtap LAN whose radvd
// advertises its own prefix (package lab): on the busybox guest (the
// kernel's own SLAAC; nothing in userspace handles RAs) and on the Debian
// guests, whose stacks (systemd-networkd, NetworkManager) handle RAs
// themselves. Holds as the README advises: the default (adaptive) for the
// distribution guests, a fixed 300 ms for the busybox guest.
func runSlaac(ctx context.Context, r *Report, trials int, stacks []guest.Stack, progress func(string, ...any)) error {
	const part = "9 slaac"
	if !isRoot() {
		r.add(Row{Part: part, Name: "IPv6 after a move", Note: "needs root (mmdebstrap, macvtap)"})
		return nil
	}
	n, err := lab.NewNetwork(ctx, nil)
	if err != nil {
		return err
	}
	defer n.Close()
	user := slaacNet{"user", []byte(ifaceXML(guestMAC, "user", "")), netip.MustParsePrefix("fec0::/64"), netip.MustParseAddr("fec0::2")}
	lan := slaacNet{"direct", []byte(ifaceXML(guestMAC, "direct", fmt.Sprintf("<source dev='%s' mode='bridge'/>", n.Parent))),
		n.Prefix6, n.Router6}
	for _, stack := range stacks {
		name, cfg := string(stack), &nicplug.Config{Netns: n.Netns}
		var a *guest.Assets
		if stack == StackBusybox {
			name = "busybox"
			cfg.CarrierHold, cfg.FixedCarrierHold = 300*time.Millisecond, true
			a, err = guest.Build(ctx, nil)
		} else {
			a, err = guest.BuildDistro(ctx, stack, nil)
		}
		if err != nil {
			return err
		}
		progress("slaac: %s: boot, plug, %d moves each way", name, trials)
		if err := slaacStack(ctx, r, part, name, a, cfg, trials, user, lan); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// slaacStack boots one guest and fills its rows.
func slaacStack(ctx context.Context, r *Report, part, name string, a *guest.Assets, cfg *nicplug.Config, trials int, user, lan slaacNet) error {
	g, vm, err := nicplugGuest(ctx, a, ifaceXML(guestMAC, "none", ""), cfg)
	if err != nil {
		return err
	}
	defer g.Close()
	defer vm.Close()
	if a.Stack != "" {
		time.Sleep(5 * time.Second) // let the stack's daemon start (see stackMoves)
	}
	hold := "fixed " + cfg.CarrierHold.String()
	if !cfg.FixedCarrierHold {
		hold = "adaptive ≤" + holdOf(cfg.CarrierHold).String() + " (default)"
	}
	plug, err := slaacWatch(ctx, g, vm, slaacNet{}, user)
	if err != nil {
		return err
	}
	ra, _, _ := g.Exec(ctx, "cat /proc/sys/net/ipv6/conf/eth0/accept_ra /proc/sys/net/ipv6/conf/eth0/autoconf")
	raNote := "eth0 accept_ra, autoconf = " + strings.Join(strings.Fields(ra), ", ")
	r.add(Row{Part: part, Name: fmt.Sprintf("%s: plug none→user: IPv6 address in fec0::/64", name), N: 1,
		Value: slaacNew([]slaacMove{plug}), Note: raNote})
	res := map[string][]slaacMove{}
	cur := user
	for range trials {
		for _, to := range []slaacNet{lan, user} {
			m, err := slaacWatch(ctx, g, vm, cur, to)
			if err != nil {
				return err
			}
			res[to.name] = append(res[to.name], m)
			cur = to
		}
	}
	for _, d := range [][2]slaacNet{{user, lan}, {lan, user}} {
		ms := res[d[1].name]
		r.add(Row{Part: part, Name: fmt.Sprintf("%s: move %s→%s, hold %s: IPv6", name, d[0].name, d[1].name, hold), N: len(ms),
			Value: slaacNew(ms) + "; " + slaacOld(ms),
			Note:  fmt.Sprintf("from UpdateDevice start; %s → %s; %s", d[0].prefix, d[1].prefix, raNote)})
	}
	return nil
}

// slaacNew formats whether and when the moves got an address in the new
// prefix, and whether the new router answered.
func slaacNew(ms []slaacMove) string {
	var got samples
	had, pings := 0, 0
	for _, m := range ms {
		switch {
		case m.hadNew:
			had++
		case m.newAt >= 0:
			got = append(got, m.newAt)
		}
		if m.ping {
			pings++
		}
	}
	s := fmt.Sprintf("new prefix %d/%d", len(got), len(ms))
	if len(got) > 0 {
		s += " at " + fmtSamples(got)
	}
	if had > 0 {
		s += fmt.Sprintf(", %d/%d still had it from the previous visit", had, len(ms))
	}
	rs := 0
	for _, m := range ms {
		rs += m.rs
	}
	return s + fmt.Sprintf(", router ping6 %d/%d, router solicitations %d in %d moves", pings, len(ms), rs, len(ms))
}

// fmtSamples lists a few samples in order, or gives p50 and max of more.
func fmtSamples(ss samples) string {
	if len(ss) > 4 {
		return fmt.Sprintf("p50 %s, max %s", fmtDur(ss.pct(50)), fmtDur(ss.pct(100)))
	}
	out := make([]string, len(ss))
	for i, d := range ss {
		out[i] = fmtDur(d)
	}
	return strings.Join(out, ", ")
}

// slaacOld formats what the moves did with the old prefix's address.
func slaacOld(ms []slaacMove) string {
	var gone samples
	left := ""
	for _, m := range ms {
		if m.oldGone >= 0 {
			gone = append(gone, m.oldGone)
		} else if left == "" {
			left = m.oldLeft
		}
	}
	s := fmt.Sprintf("old prefix dropped %d/%d", len(gone), len(ms))
	if len(gone) > 0 {
		s += " at " + fmtSamples(gone)
	}
	if left != "" {
		s += fmt.Sprintf(", kept: %s", left)
	}
	return s
}

// slaacWatch moves the guest from from (zero: unplugged) to to and polls
// eth0's IPv6 addresses until it has a usable one in to's prefix and none
// in from's, or slaacKeep after the first, or a minute without one.
func slaacWatch(ctx context.Context, g *guest.Guest, vm *nicplug.VM, from, to slaacNet) (slaacMove, error) {
	m := slaacMove{newAt: -1, oldGone: -1}
	before, err := guestAddrs6(ctx, g)
	if err != nil {
		return m, err
	}
	m.hadNew = len(inPrefix(before, to.prefix, true)) > 0
	rs0, err := guestRS(ctx, g)
	if err != nil {
		return m, err
	}
	t0 := time.Now()
	if err := vm.UpdateDevice(ctx, to.xml); err != nil {
		return m, err
	}
	var newSeen time.Time
	for {
		now := time.Now()
		as, err := guestAddrs6(ctx, g)
		if err != nil {
			return m, err
		}
		if m.newAt < 0 && len(inPrefix(as, to.prefix, true)) > 0 {
			m.newAt, newSeen = now.Sub(t0), now
		}
		old := inPrefix(as, from.prefix, false)
		if m.oldGone < 0 && from.prefix.IsValid() && len(old) == 0 {
			m.oldGone = now.Sub(t0)
		}
		if !from.prefix.IsValid() {
			m.oldGone = 0
		}
		switch {
		case m.newAt >= 0 && m.oldGone >= 0,
			m.newAt >= 0 && now.Sub(newSeen) > slaacKeep,
			m.newAt < 0 && now.Sub(t0) > time.Minute:
			if len(old) > 0 && m.oldGone < 0 {
				m.oldLeft = old[0].p.String() + " " + old[0].flags
			}
			if m.newAt >= 0 {
				_, code, err := g.Exec(ctx, "ping -6 -c 1 -W 2 "+to.router.String())
				if err != nil {
					return m, err
				}
				m.ping = code == 0
			}
			rs, err := guestRS(ctx, g)
			m.rs = rs - rs0
			return m, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// inPrefix returns the addresses of as in p; usable drops tentative ones.
func inPrefix(as []addr6, p netip.Prefix, usable bool) []addr6 {
	var out []addr6
	for _, a := range as {
		if p.IsValid() && p.Contains(a.p.Addr()) && !(usable && strings.Contains(a.flags, "tentative")) {
			out = append(out, a)
		}
	}
	return out
}

// guestAddrs6 reads eth0's IPv6 addresses in the guest ("2: eth0    inet6
// fec0::…/64 scope site dynamic … \       valid_lft 86399sec …").
func guestAddrs6(ctx context.Context, g *guest.Guest) ([]addr6, error) {
	ectx, cancel := context.WithTimeout(ctx, guestWait)
	defer cancel()
	out, _, err := g.Exec(ectx, "ip -6 -o addr show dev eth0")
	if err != nil {
		return nil, err
	}
	var as []addr6
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "inet6" {
			continue
		}
		p, err := netip.ParsePrefix(f[3])
		if err != nil {
			continue
		}
		rest := strings.Join(f[4:], " ")
		rest = strings.ReplaceAll(rest, "\\ ", "")
		rest = strings.ReplaceAll(rest, "flags 100 ", "") // busybox ip: IFA_F_MANAGETEMPADDR
		as = append(as, addr6{p: p, flags: rest})
	}
	return as, nil
}

// guestRS reads how many router solicitations the guest has sent
// (/proc/net/snmp6: the kernel counts those of userspace stacks, sent on
// raw ICMPv6 sockets, too).
func guestRS(ctx context.Context, g *guest.Guest) (int, error) {
	ectx, cancel := context.WithTimeout(ctx, guestWait)
	defer cancel()
	out, _, err := g.Exec(ectx, "grep Icmp6OutRouterSolicits /proc/net/snmp6")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, fmt.Errorf("bench: guest's snmp6: %q", out)
	}
	var n int
	_, err = fmt.Sscan(f[1], &n)
	return n, err
}
