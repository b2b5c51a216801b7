package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/qmp"
)

const guestMAC = "52:54:00:be:0e:01"

// guestWait bounds one wait for a guest event (TCG on a loaded machine).
const guestWait = 60 * time.Second

func waitEv(ctx context.Context, g *guest.Guest, from int, kind string, args ...string) (guest.Event, error) {
	wctx, cancel := context.WithTimeout(ctx, guestWait)
	defer cancel()
	ev, err := g.WaitEvent(wctx, from, guest.Match(kind, args...))
	if err != nil {
		return ev, fmt.Errorf("bench: guest event %s %v: %w\nconsole tail: %s", kind, args, err, tail(g.Console(), 1500))
	}
	return ev, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// nicplugGuest boots a guest whose NIC nicplug manages, booted with
// backend boot and started through VM.Start.
func nicplugGuest(ctx context.Context, a *guest.Assets, bootXML string, cfg *nicplug.Config) (*guest.Guest, *nicplug.VM, error) {
	xml := domainXML("guest", bootXML)
	dom, err := domain.ParseDomain(xml, nil)
	if err != nil {
		return nil, nil, err
	}
	args, err := qemuArgs(ctx, dom)
	if err != nil {
		return nil, nil, err
	}
	g, err := guest.Boot(ctx, &guest.Config{Assets: a, ExtraArgs: args, Paused: true})
	if err != nil {
		return nil, nil, err
	}
	vm, err := nicplug.Attach(ctx, g.QMPSocket(), xml, cfg)
	if err == nil {
		if err = vm.Start(ctx); err != nil {
			vm.Close()
		}
	}
	if err != nil {
		g.Close()
		return nil, nil, err
	}
	if _, err := waitEv(ctx, g, 0, guest.KindReady); err != nil {
		vm.Close()
		g.Close()
		return nil, nil, err
	}
	return g, vm, nil
}

// netTimes are the times from an action to the guest's carrier, lease and
// first ping of its router.
type netTimes struct{ carrier, lease, ping samples }

func (n *netTimes) wait(ctx context.Context, g *guest.Guest, seq int, t0 time.Time) error {
	c, err := waitEv(ctx, g, seq, guest.KindCarrier, "1")
	if err != nil {
		return err
	}
	l, err := waitEv(ctx, g, c.Seq, guest.KindLease)
	if err != nil {
		return err
	}
	p, err := waitEv(ctx, g, l.Seq, guest.KindPing)
	if err != nil {
		return err
	}
	if p.Arg(1) != "ok" {
		return fmt.Errorf("bench: guest ping of its router failed: %s", p.Raw)
	}
	n.carrier = append(n.carrier, c.Time.Sub(t0))
	n.lease = append(n.lease, l.Time.Sub(t0))
	n.ping = append(n.ping, p.Time.Sub(t0))
	return nil
}

func (n *netTimes) value() string {
	return fmt.Sprintf("%s / %s / %s", fmtDur(n.carrier.pct(50)), fmtDur(n.lease.pct(50)), fmtDur(n.ping.pct(50)))
}

// runGuest measures, on real guests, a nicplug plug and switch against
// device_del + device_add of a hot-pluggable NIC.
func runGuest(ctx context.Context, r *Report, iters int, progress func(string, ...any)) error {
	progress("guest: building assets (cached)")
	a, err := guest.Build(ctx, nil)
	if err != nil {
		return err
	}
	var tap *hostTap
	if isRoot() {
		if tap, err = newHostTap(); err != nil {
			return err
		}
		defer tap.close()
	}

	// nicplug: plug slirp into an unplugged NIC, unplug; switch slirp ↔
	// a host tap with DHCP, with a carrier hold the guest's 10 ms carrier
	// poll cannot miss.
	const hold = 50 * time.Millisecond
	progress("guest: nicplug plug/switch, %d iterations", iters)
	g, vm, err := nicplugGuest(ctx, a, ifaceXML(guestMAC, "none", ""), &nicplug.Config{CarrierHold: hold})
	if err != nil {
		return err
	}
	defer g.Close()
	defer vm.Close()
	userXML := []byte(ifaceXML(guestMAC, "user", ""))
	noneXML := []byte(ifaceXML(guestMAC, "none", ""))
	var plug, sw netTimes
	for range iters {
		seq := g.Seq()
		t0 := time.Now()
		if err := vm.UpdateDevice(ctx, userXML); err != nil {
			return err
		}
		if err := plug.wait(ctx, g, seq, t0); err != nil {
			return err
		}
		if tap != nil {
			tapXML := []byte(ifaceXML(guestMAC, "ethernet", fmt.Sprintf("<target dev='%s' managed='no'/>", tap.name)))
			for _, x := range [][]byte{tapXML, userXML} {
				seq := g.Seq()
				t0 := time.Now()
				if err := vm.UpdateDevice(ctx, x); err != nil {
					return err
				}
				c0, err := waitEv(ctx, g, seq, guest.KindCarrier, "0")
				if err != nil {
					return err
				}
				if err := sw.wait(ctx, g, c0.Seq, t0); err != nil {
					return err
				}
			}
		}
		seq = g.Seq()
		if err := vm.UpdateDevice(ctx, noneXML); err != nil {
			return err
		}
		if _, err := waitEv(ctx, g, seq, guest.KindDeconfig); err != nil {
			return err
		}
	}
	vm.Close()
	g.Close()

	// Hot-plug: the NIC on a PCIe root port, removed and added again.
	progress("guest: device_del + device_add, %d iterations", iters)
	hp, err := hotplugGuest(ctx, a, iters)
	if err != nil {
		return err
	}

	const what = "carrier / lease / ping p50"
	r.add(Row{Part: "4 guest", Name: "nicplug plug none→user: " + what, N: len(plug.ping), Value: plug.value(),
		Note: "from UpdateDevice start"})
	if tap != nil {
		r.add(Row{Part: "4 guest", Name: "move: nicplug switch user↔tap vs device_del+device_add: " + what, N: len(sw.ping),
			Value: sw.value(), Baseline: hp.fromDel.value(), Ratio: ratio(sw.ping.pct(50), hp.fromDel.ping.pct(50)),
			Note: fmt.Sprintf("from UpdateDevice / device_del start; nicplug carrier hold %s", hold)})
	} else {
		r.add(Row{Part: "4 guest", Name: "move: nicplug switch user↔tap", Note: "needs root (host tap)"})
	}
	r.add(Row{Part: "4 guest", Name: "hot-plug: device_del → DEVICE_DELETED p50", N: len(hp.del), Baseline: fmtDur(hp.del.pct(50)),
		Note: hp.note})
	r.add(Row{Part: "4 guest", Name: "hot-plug: device_add → " + what, N: len(hp.add.ping), Baseline: hp.add.value()})
	return nil
}

type hotplugTimes struct {
	del          samples
	add, fromDel netTimes
	note         string
}

// hotplugGuest measures device_del + device_add of a virtio-net NIC on a
// pcie-root-port with a fresh slirp netdev, until the guest pings again.
func hotplugGuest(ctx context.Context, a *guest.Assets, iters int) (*hotplugTimes, error) {
	g, err := guest.Boot(ctx, &guest.Config{Assets: a, ExtraArgs: hotplugArgs})
	if err != nil {
		return nil, err
	}
	defer g.Close()
	c, err := qmp.Dial(ctx, g.QMPSocket(), nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var hp hotplugTimes
	if err := hp.add.wait(ctx, g, 0, time.Now()); err != nil {
		return nil, err
	}
	hp.add = netTimes{}
	ectx, cancel := context.WithTimeout(ctx, guestWait)
	slots, _, err := g.Exec(ectx, "echo slots=$(ls /sys/bus/pci/slots | tr '\\n' ,) pciehp=$(test -d /sys/module/pciehp && echo built-in || echo absent)")
	cancel()
	if err != nil {
		return nil, err
	}
	hp.note = "q35 unplugs root ports through ACPI (acpi-pci-hotplug-with-bridge-support=on), not pciehp's 5 s button; guest: " +
		strings.Join(strings.Fields(slots), " ")
	for i := range iters {
		seq := g.Seq()
		t0 := time.Now()
		del, tAdd, err := replaceNIC(ctx, c, i)
		if err != nil {
			return nil, err
		}
		hp.del = append(hp.del, del)
		// The guest sees the old eth0 vanish (carrier 0), then the new one.
		c0, err := waitEv(ctx, g, seq, guest.KindCarrier, "0")
		if err != nil {
			return nil, err
		}
		if err := hp.add.wait(ctx, g, c0.Seq, tAdd); err != nil {
			return nil, err
		}
		last := len(hp.add.ping) - 1
		d := tAdd.Sub(t0)
		hp.fromDel.carrier = append(hp.fromDel.carrier, hp.add.carrier[last]+d)
		hp.fromDel.lease = append(hp.fromDel.lease, hp.add.lease[last]+d)
		hp.fromDel.ping = append(hp.fromDel.ping, hp.add.ping[last]+d)
	}
	return &hp, nil
}

// runThroughput compares guest→host TCP throughput through nicplug's hub
// with a tap peered directly with the NIC (vnet_hdr on).
func runThroughput(ctx context.Context, r *Report, mib int, progress func(string, ...any)) error {
	if !isRoot() {
		r.add(Row{Part: "6 throughput", Name: "guest→host TCP, hub vs direct tap", Note: "needs root (host tap)"})
		return nil
	}
	a, err := guest.Build(ctx, nil)
	if err != nil {
		return err
	}
	tap, err := newHostTap()
	if err != nil {
		return err
	}
	defer tap.close()
	const runs = 3

	progress("throughput: direct tap")
	g, err := guest.Boot(ctx, &guest.Config{Assets: a, ExtraArgs: []string{
		"-netdev", fmt.Sprintf("tap,id=t0,ifname=%s,script=no,downscript=no,vnet_hdr=on", tap.name),
		"-device", fmt.Sprintf("virtio-net-pci,id=net0,netdev=t0,mac=%s", guestMAC),
	}})
	if err != nil {
		return err
	}
	direct, err := guestThroughput(ctx, g, mib, runs)
	g.Close()
	if err != nil {
		return err
	}

	progress("throughput: through nicplug's hub")
	g, vm, err := nicplugGuest(ctx, a, ifaceXML(guestMAC, "ethernet", fmt.Sprintf("<target dev='%s' managed='no'/>", tap.name)), nil)
	if err != nil {
		return err
	}
	hub, err := guestThroughput(ctx, g, mib, runs)
	vm.Close()
	g.Close()
	if err != nil {
		return err
	}
	mbps := func(d time.Duration) string {
		return fmt.Sprintf("%.1f MB/s", float64(mib)*(1<<20)/d.Seconds()/1e6)
	}
	r.add(Row{Part: "6 throughput", Name: fmt.Sprintf("guest→host TCP, %d MiB, median of %d", mib, runs), N: runs,
		Value: mbps(hub.pct(50)), Baseline: mbps(direct.pct(50)), Ratio: ratio(direct.pct(50), hub.pct(50)),
		Note: "hub (no vnet_hdr) vs tap peered with the NIC (vnet_hdr=on); TCG-bound"})
	return nil
}

// guestThroughput waits for the guest's lease and times runs transfers of
// mib MiB from the guest (dd | nc) to a host listener on the tap.
func guestThroughput(ctx context.Context, g *guest.Guest, mib, runs int) (samples, error) {
	if _, err := waitEv(ctx, g, 0, guest.KindPing, tapHostIP, "ok"); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", tapHostIP+":0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	const bs = 64 << 10
	blocks := mib * 16
	var out samples
	for range runs {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		d, err := g.SendTCP(ectx, l, tapHostIP, blocks, bs)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// hotplugArgs boot net0 on a PCIe root port with user netdev hp0, ready
// for replaceNIC.
var hotplugArgs = []string{
	"-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1",
	"-netdev", "user,id=hp0",
	"-device", fmt.Sprintf("virtio-net-pci,id=net0,netdev=hp0,bus=rp1,mac=%s", guestMAC),
}

// replaceNIC is the i-th (from 0) hot-plug replacement of net0: device_del
// until DEVICE_DELETED, netdev_del of its user netdev hp<i>, netdev_add of
// a fresh hp<i+1>, device_add of net0 on it. It returns how long the
// removal took and when device_add was sent.
func replaceNIC(ctx context.Context, c *qmp.Client, i int) (time.Duration, time.Time, error) {
	t0 := time.Now()
	w := c.Watch(qmp.DeviceDeleted("net0"))
	if err := c.DeviceDel(ctx, "net0"); err != nil {
		w.Stop()
		return 0, time.Time{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, guestWait)
	_, err := w.Wait(wctx)
	cancel()
	w.Stop()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("bench: DEVICE_DELETED of net0: %w", err)
	}
	del := time.Since(t0)
	if err := c.NetdevDel(ctx, fmt.Sprintf("hp%d", i)); err != nil {
		return 0, time.Time{}, err
	}
	next := fmt.Sprintf("hp%d", i+1)
	if err := c.NetdevAdd(ctx, map[string]any{"type": "user", "id": next}); err != nil {
		return 0, time.Time{}, err
	}
	added := time.Now()
	err = c.DeviceAdd(ctx, map[string]any{"driver": "virtio-net-pci", "id": "net0", "netdev": next, "bus": "rp1", "mac": guestMAC})
	return del, added, err
}
