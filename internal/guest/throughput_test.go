package guest_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
)

// TestIntegrationSendTCP sends bytes from the guest through slirp to a
// host listener, and checks that bad transfers fail without hanging.
func TestIntegrationSendTCP(t *testing.T) {
	g, q, _ := bootUnplugged(t, "-netdev", "user,id=u0", "-device", userNIC)
	seq := g.Seq()
	q.setLink(t, "net0", true)
	waitEv(t, g, seq, guest.KindPing, "10.0.2.2", "ok")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// slirp maps the guest's 10.0.2.2 to the host's loopback.
	d, err := g.SendTCP(ctx, l, "10.0.2.2", 16, 64<<10)
	if err != nil {
		t.Fatalf("SendTCP: %v", err)
	}
	if d <= 0 {
		t.Errorf("SendTCP took %v", d)
	}
	t.Logf("1 MiB guest→host through slirp in %v", d)

	// Nothing listens where the guest connects: nc fails, and SendTCP
	// returns instead of waiting for a connection that never comes.
	var oe *guest.OpError
	if _, err := g.SendTCP(ctx, l, "10.0.2.99", 1, 512); !errors.As(err, &oe) {
		t.Errorf("SendTCP to an address with no listener: got %v, want a *guest.OpError", err)
	}
	// The listener still serves a later transfer.
	if _, err := g.SendTCP(ctx, l, "10.0.2.2", 1, 512); err != nil {
		t.Errorf("SendTCP after a failed transfer: %v", err)
	}
	for _, bad := range []struct {
		ip            string
		blocks, bsize int
	}{{"not-an-ip", 1, 1}, {"10.0.2.2", 0, 1}, {"10.0.2.2", 1, 0}} {
		if _, err := g.SendTCP(ctx, l, bad.ip, bad.blocks, bad.bsize); err == nil {
			t.Errorf("SendTCP(%q, %d, %d): no error", bad.ip, bad.blocks, bad.bsize)
		}
	}
}
