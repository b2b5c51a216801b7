package guest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
)

// BenchmarkBoot measures QEMU start to the guest's ready event.
func BenchmarkBoot(b *testing.B) {
	a := bootAssets(b)
	var total time.Duration
	for b.Loop() {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		g, err := guest.Boot(ctx, &guest.Config{Assets: &a})
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		_, err = g.WaitEvent(ctx, 0, guest.Match(guest.KindReady))
		total += time.Since(t0)
		cancel()
		g.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/ready")
}

// BenchmarkPlugUser measures, after a QMP set_link up on a slirp-backed NIC,
// the time to the guest's carrier, its DHCP lease and its first ping of the
// router (host-side timestamps of the console lines).
func BenchmarkPlugUser(b *testing.B) {
	g, q, _ := bootUnplugged(b, "-netdev", "user,id=u0", "-device", userNIC)
	waitEv(b, g, 0, guest.KindCarrier, "0")
	var carrier, lease, ping time.Duration
	for b.Loop() {
		seq := g.Seq()
		t0 := time.Now()
		q.setLink(b, "net0", true)
		c := waitEv(b, g, seq, guest.KindCarrier, "1")
		l := waitEv(b, g, seq, guest.KindLease)
		p := waitEv(b, g, l.Seq, guest.KindPing, "10.0.2.2", "ok")
		carrier += c.Time.Sub(t0)
		lease += l.Time.Sub(t0)
		ping += p.Time.Sub(t0)

		b.StopTimer()
		seq = g.Seq()
		q.setLink(b, "net0", false)
		waitEv(b, g, seq, guest.KindDeconfig)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(carrier.Microseconds())/1000/n, "ms/carrier")
	b.ReportMetric(float64(lease.Microseconds())/1000/n, "ms/lease")
	b.ReportMetric(float64(ping.Microseconds())/1000/n, "ms/ping")
}

// BenchmarkTCPGuestToHost measures TCP throughput from the guest to a host
// listener through slirp (guest: dd | nc 10.0.2.2 PORT).
func BenchmarkTCPGuestToHost(b *testing.B) {
	g, q, _ := bootUnplugged(b, "-netdev", "user,id=u0", "-device", userNIC)
	seq := g.Seq()
	q.setLink(b, "net0", true)
	waitEv(b, g, seq, guest.KindLease)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const blocks, bs = 160, 64 << 10 // 10 MiB per iteration
	b.SetBytes(blocks * bs)
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		_, err := g.SendTCP(ctx, l, "10.0.2.2", blocks, bs)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
}
