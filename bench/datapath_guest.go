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
)

// dpGuestCPUs is the vCPU count of both throughput guests: the tap
// datapath NIC has two queue pairs and uses both with two vCPUs.
const dpGuestCPUs = 2

// runDatapath is the datapath part: moves on guest-less QEMUs, then
// throughput on busybox guests, in one namespace.
func runDatapath(ctx context.Context, r *Report, cycles, mib, trials int, progress func(string, ...any)) error {
	if !isRoot() {
		r.add(Row{Part: "8 datapath", Name: "tap datapath vs hub", Note: "needs root (bridges, taps, macvlans in a private netns)"})
		return nil
	}
	n, err := newDPNet(true)
	if err != nil {
		return err
	}
	defer n.close()
	if err := runDatapathMoves(ctx, r, n, cycles, progress); err != nil {
		return err
	}
	return runDatapathThroughput(ctx, r, n, mib, trials, progress)
}

// dpGuest is a busybox guest whose NIC nicplug manages in the namespace.
type dpGuest struct {
	g    *guest.Guest
	vm   *nicplug.VM
	taps *nicplug.Taps
	ip   string
}

func (d *dpGuest) close() {
	if d.vm != nil {
		d.vm.Close()
	}
	d.g.Close()
	if d.taps != nil {
		d.taps.Delete(context.Background())
	}
}

// bootDPGuest boots a guest with net0 on bridge dpBridge0 (on the tap
// datapath when tap), started through VM.Start, and waits for its lease
// and first ping of the host.
func bootDPGuest(ctx context.Context, a *guest.Assets, n *dpNet, mac string, tap bool) (*dpGuest, error) {
	name := "nph3gh"
	if tap {
		name = "nph3gt"
	}
	xml := domainXML(name, dpIface(mac, dpB0, tap))
	dom, err := domain.ParseDomain(xml, nil)
	if err != nil {
		return nil, err
	}
	args, files, taps, err := dpTaps(ctx, dom, n.path, tap)
	if err != nil {
		return nil, err
	}
	g, err := guest.Boot(ctx, &guest.Config{Assets: a, ExtraArgs: args, Paused: true, CPUs: dpGuestCPUs, ExtraFiles: files})
	closeFiles(files)
	if err != nil {
		if taps != nil {
			taps.Delete(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	d := &dpGuest{g: g, taps: taps}
	if d.vm, err = nicplug.Attach(ctx, g.QMPSocket(), xml, &nicplug.Config{Netns: n.path}); err == nil {
		err = d.vm.Start(ctx)
	}
	if err != nil {
		d.close()
		return nil, err
	}
	lease, err := waitEv(ctx, g, 0, guest.KindLease)
	if err == nil {
		_, err = waitEv(ctx, g, lease.Seq, guest.KindPing, dpHostIP, "ok")
	}
	if err != nil {
		d.close()
		return nil, err
	}
	d.ip, _, _ = strings.Cut(lease.Arg(0), "/")
	return d, nil
}

// virtio-net feature bits worth naming (virtio spec 5.1.3).
var virtioNetFeatures = []struct {
	bit  int
	name string
}{
	{0, "CSUM"}, {1, "GUEST_CSUM"}, {7, "GUEST_TSO4"}, {8, "GUEST_TSO6"}, {10, "GUEST_UFO"},
	{11, "HOST_TSO4"}, {12, "HOST_TSO6"}, {14, "HOST_UFO"}, {15, "MRG_RXBUF"}, {22, "MQ"},
}

// features reads the negotiated virtio features of the guest's eth0 and
// its queue count.
func (d *dpGuest) features(ctx context.Context) (string, error) {
	ectx, cancel := context.WithTimeout(ctx, guestWait)
	defer cancel()
	out, _, err := d.g.Exec(ectx, "cat /sys/class/net/eth0/device/features; ls /sys/class/net/eth0/queues | grep -c rx")
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return "", fmt.Errorf("bench: guest features: %q", out)
	}
	var on []string
	for _, b := range virtioNetFeatures {
		if b.bit < len(f[0]) && f[0][b.bit] == '1' {
			on = append(on, b.name)
		}
	}
	if len(on) == 0 {
		on = []string{"no offloads"}
	}
	return strings.Join(on, " ") + "; rx queues " + f[1], nil
}

// dpThroughput are one datapath's transfer times and features.
type dpThroughput struct {
	send, recv samples
	features   string
}

// measure runs trials transfers of mib MiB each way, alternating.
func (d *dpGuest) measure(ctx context.Context, n *dpNet, mib, trials int) (*dpThroughput, error) {
	var res dpThroughput
	var err error
	if res.features, err = d.features(ctx); err != nil {
		return nil, err
	}
	var l net.Listener
	if err := inNetns(n.path, func() error {
		var err error
		l, err = net.Listen("tcp", dpHostIP+":0")
		return err
	}); err != nil {
		return nil, err
	}
	defer l.Close()
	const bs = 64 << 10
	blocks := mib * 16
	for i := range trials {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		s, err := d.g.SendTCP(tctx, l, dpHostIP, blocks, bs)
		if err == nil {
			res.send = append(res.send, s)
			var rt time.Duration
			rt, err = d.g.ReceiveTCP(tctx, dialIn(n.path), d.ip, 5001+i, blocks, bs)
			res.recv = append(res.recv, rt)
		}
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	return &res, nil
}

// runDatapathThroughput measures guest→host and host→guest TCP through a
// hub NIC and a tap-datapath NIC, both plugged into dpBridge0.
func runDatapathThroughput(ctx context.Context, r *Report, n *dpNet, mib, trials int, progress func(string, ...any)) error {
	a, err := guest.Build(ctx, nil)
	if err != nil {
		return err
	}
	res := map[bool]*dpThroughput{}
	for _, tap := range []bool{false, true} {
		dp, mac := "hub", dpMACHub
		if tap {
			dp, mac = "tap", dpMACTap
		}
		progress("datapath: throughput, %s datapath, %d × %d MiB each way", dp, trials, mib)
		g, err := bootDPGuest(ctx, a, n, mac, tap)
		if err != nil {
			return fmt.Errorf("bench: %s guest: %w", dp, err)
		}
		res[tap], err = g.measure(ctx, n, mib, trials)
		g.close()
		if err != nil {
			return fmt.Errorf("bench: %s guest: %w", dp, err)
		}
	}
	mbps := func(d time.Duration) string {
		return fmt.Sprintf("%.1f MB/s", float64(mib)*(1<<20)/d.Seconds()/1e6)
	}
	t, h := res[true], res[false]
	const part = "8 datapath"
	note := fmt.Sprintf("busybox guest, %d vCPUs each, TCG; bridge %s in a private netns; tap: <driver queues='2'/>, no vhost-net", dpGuestCPUs, dpBridge0)
	r.add(Row{Part: part, Name: fmt.Sprintf("guest→host TCP, %d MiB, median of %d", mib, trials), N: len(t.send),
		Value: mbps(t.send.pct(50)), Baseline: mbps(h.send.pct(50)), Ratio: ratio(h.send.pct(50), t.send.pct(50)), Note: note})
	r.add(Row{Part: part, Name: fmt.Sprintf("host→guest TCP, %d MiB, median of %d", mib, trials), N: len(t.recv),
		Value: mbps(t.recv.pct(50)), Baseline: mbps(h.recv.pct(50)), Ratio: ratio(h.recv.pct(50), t.recv.pct(50)), Note: note})
	r.add(Row{Part: part, Name: "guest virtio-net features", N: 1, Value: t.features, Baseline: h.features,
		Note: "/sys/class/net/eth0/device/features in the guest"})
	return nil
}
