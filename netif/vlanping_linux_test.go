package netif

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIntegrationAccessVLANPing proves access VLANs on the data plane with
// the kernel's own bridge and IP stacks: two nicplug bridge taps on a
// VLAN-filtering bridge, each wired to a host namespace with an address
// (frames copied between the tap's queue and a veth, what QEMU does for a
// guest). Hosts on the same PVID ping each other, on different PVIDs they
// do not, and each live SetAccessVLAN flips that. Without VLAN filtering
// it checks the refusal instead.
func TestIntegrationAccessVLANPing(t *testing.T) {
	n := newTestNetnsPrefix(t, "nph4-")
	if !vlanFiltering(t, n) {
		requireVLANRefused(t, n)
		return
	}
	ctx := ctxT(t)
	n.bridge(t, "h4br", true)
	var hosts [2]*testNetns
	taps := [2]string{"h4tapa", "h4tapb"}
	for i, tap := range taps {
		l, err := CreateBridgeTap(ctx, &BridgeTapConfig{Name: tap, Bridge: "h4br", Owner: Owner{"vm", fmt.Sprintf("net%d", i)}, Netns: n.Path, VLAN: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Delete(ctx) })
		files, err := l.Open(ctx, &OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { files[0].Close() })
		hosts[i] = newTestNetnsPrefix(t, "nph4-")
		wire, hostEnd := fmt.Sprintf("h4w%d", i), fmt.Sprintf("h4h%d", i)
		n.veth(t, wire, hostEnd)
		n.ip(t, "link", "set", hostEnd, "netns", hosts[i].Name)
		hosts[i].ip(t, "addr", "add", fmt.Sprintf("10.44.0.%d/24", i+1), "dev", hostEnd)
		hosts[i].ip(t, "link", "set", hostEnd, "up")
		copyFrames(t, files[0], n.openPacket(t, wire))
	}
	for _, step := range []struct {
		port  int // taps[port] changes to vlan
		vlan  int
		reach bool
	}{
		{-1, 0, true}, // both on 10, as created
		{1, 20, false},
		{0, 20, true},
		{0, 0, false}, // a back on the bridge's default PVID (1)
		{1, 0, true},
	} {
		what := "as created (both VLAN 10)"
		if step.port >= 0 {
			if err := SetAccessVLAN(ctx, n.Path, taps[step.port], step.vlan); err != nil {
				t.Fatalf("SetAccessVLAN %s %d: %v", taps[step.port], step.vlan, err)
			}
			what = fmt.Sprintf("after SetAccessVLAN %s %d", taps[step.port], step.vlan)
		}
		vlans := n.run(t, "bridge", "vlan", "show")
		for _, h := range hosts {
			h.ip(t, "neigh", "flush", "all")
		}
		if got := ping(hosts[0], "10.44.0.2", step.reach); got != step.reach {
			t.Errorf("%s: ping from host a to host b: reached %v, want %v; bridge vlan show:\n%s", what, got, step.reach, vlans)
		} else {
			t.Logf("%s: reachable %v", what, got)
		}
	}
}

// ping reports whether the namespace reaches addr. When a reply is
// expected it tries a few times (the first ARP may be slow under
// emulation); when none is, three echo requests go unanswered.
func ping(n *testNetns, addr string, expect bool) bool {
	tries := 1
	if expect {
		tries = 5
	}
	for range tries {
		if exec.Command("ip", "netns", "exec", n.Name, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-q", addr).Run() == nil {
			return true
		}
	}
	return false
}

// copyFrames copies frames both ways between a tap queue (no vnet_hdr) and
// a packet socket on a device, as QEMU would between its guest and the
// tap, until the test ends.
func copyFrames(t *testing.T, tap *os.File, p *packetSocket) {
	t.Helper()
	var stop atomic.Bool
	var wg sync.WaitGroup
	fail := func(format string, args ...any) {
		if !stop.Load() {
			t.Errorf(format, args...)
		}
	}
	wg.Add(2)
	go func() { // tap -> device
		defer wg.Done()
		buf := make([]byte, 65536)
		for !stop.Load() {
			m, err := tap.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if err != nil {
				fail("read %s: %v", tap.Name(), err)
				return
			}
			if m < 14 {
				continue
			}
			sa := &unix.SockaddrLinklayer{Ifindex: p.index, Halen: 6}
			copy(sa.Addr[:], buf[0:6])
			if err := unix.Sendto(p.fd, buf[:m], 0, sa); err != nil && !errors.Is(err, unix.ENOBUFS) {
				fail("packet send: %v", err)
				return
			}
		}
	}()
	go func() { // device -> tap
		defer wg.Done()
		buf := make([]byte, 65536)
		for !stop.Load() {
			pfd := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
			k, err := unix.Poll(pfd, 100)
			if errors.Is(err, unix.EINTR) || k == 0 {
				continue
			}
			if err != nil {
				fail("poll: %v", err)
				return
			}
			m, from, err := unix.Recvfrom(p.fd, buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) {
				continue
			}
			if err != nil {
				fail("packet recv: %v", err)
				return
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue // what the other goroutine sent
			}
			if _, err := tap.Write(buf[:m]); err != nil && !strings.Contains(err.Error(), "no buffer space") {
				fail("write %s: %v", tap.Name(), err)
				return
			}
		}
	}()
	t.Cleanup(func() {
		stop.Store(true)
		tap.SetReadDeadline(time.Now())
		wg.Wait()
	})
}
