package netif

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// testNetns is a fresh network namespace made with `ip netns add`.
type testNetns struct {
	Name string // for `ip -n`
	Path string // for netif
}

// newTestNetns creates a namespace with a unique name, deleted in
// t.Cleanup (its devices go with it).
func newTestNetns(t testing.TB) *testNetns {
	t.Helper()
	return newTestNetnsPrefix(t, "nptest-")
}

// newTestNetnsPrefix is newTestNetns with the name prefix prefix.
func newTestNetnsPrefix(t testing.TB, prefix string) *testNetns {
	t.Helper()
	testenv.RequireRoot(t)
	var b [4]byte
	rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	n := &testNetns{Name: name, Path: "/run/netns/" + name}
	n.ip(t, "link", "set", "lo", "up")
	return n
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ip runs `ip -n <ns> args…`.
func (n *testNetns) ip(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"-n", n.Name}, args...)...)
}

// veth creates the up veth pair parent/peer.
func (n *testNetns) veth(t testing.TB, parent, peer string) {
	t.Helper()
	n.ip(t, "link", "add", parent, "type", "veth", "peer", "name", peer)
	n.ip(t, "link", "set", parent, "up")
	n.ip(t, "link", "set", peer, "up")
}

// handle returns a netlink handle in the namespace, closed in t.Cleanup.
func (n *testNetns) handle(t testing.TB) *netlink.Handle {
	t.Helper()
	h := n.rawHandle(t)
	t.Cleanup(h.Close)
	return h
}

// rawHandle returns a netlink handle in the namespace; the caller closes it.
func (n *testNetns) rawHandle(t testing.TB) *netlink.Handle {
	t.Helper()
	ns, err := openNetns(n.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := ns.handle()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// linkNames lists the namespace's device names.
func (n *testNetns) linkNames(t testing.TB) []string {
	t.Helper()
	h := n.rawHandle(t)
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names
}

// openFDs maps the process's open descriptors to what they point at.
func openFDs(t testing.TB) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string, len(ents))
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name()) // the ReadDir fd itself is gone by now
		m[e.Name()] = target
	}
	return m
}

// checkNoNewFDs fails if descriptors open now were not open in before.
// (Descriptors closed meanwhile, e.g. by finalizers of earlier tests' files,
// are fine.)
func checkNoNewFDs(t testing.TB, before map[string]string, what string) {
	t.Helper()
	var leaked []string
	for fd, target := range openFDs(t) {
		if before[fd] != target {
			leaked = append(leaked, fd+" -> "+target)
		}
	}
	if len(leaked) > 0 {
		t.Errorf("descriptors leaked by %s: %v", what, leaked)
	}
}

// testEtherType is IEEE's "local experimental" EtherType.
const testEtherType = 0x88b5

// vnetHdrLen is sizeof(struct virtio_net_hdr), the prefix macvtap and tap
// use by default with IFF_VNET_HDR.
const vnetHdrLen = 10

// frame builds an Ethernet frame carrying payload with testEtherType.
func frame(dst, src net.HardwareAddr, payload string) []byte {
	b := make([]byte, 14, 64)
	copy(b[0:6], dst)
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:14], testEtherType)
	b = append(b, payload...)
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

// hasPayload reports whether b is a testEtherType frame carrying payload.
func hasPayload(b []byte, payload string) bool {
	return len(b) >= 14 && binary.BigEndian.Uint16(b[12:14]) == testEtherType &&
		bytes.HasPrefix(b[14:], []byte(payload))
}

// packetSocket is an AF_PACKET socket bound to a device in a namespace.
type packetSocket struct {
	fd    int
	index int
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openPacket opens a raw packet socket on dev in the namespace.
func (n *testNetns) openPacket(t testing.TB, dev string) *packetSocket {
	t.Helper()
	h := n.rawHandle(t)
	defer h.Close()
	l, err := h.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := openNetns(n.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	var fd int
	err = ns.do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		return err
	})
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: l.Attrs().Index}
	if err := unix.Bind(fd, sa); err != nil {
		t.Fatalf("bind packet socket to %s: %v", dev, err)
	}
	return &packetSocket{fd: fd, index: l.Attrs().Index}
}

func (p *packetSocket) send(t testing.TB, b []byte) {
	t.Helper()
	sa := &unix.SockaddrLinklayer{Ifindex: p.index, Halen: 6}
	copy(sa.Addr[:], b[0:6])
	if err := unix.Sendto(p.fd, b, 0, sa); err != nil {
		t.Fatalf("packet send: %v", err)
	}
}

// waitFor reads frames until one carries payload (true) or timeout passes.
func (p *packetSocket) waitFor(t testing.TB, payload string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 65536)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		pfd := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(left/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if n == 0 {
			continue
		}
		m, _, err := unix.Recvfrom(p.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				continue
			}
			t.Fatalf("packet recv: %v", err)
		}
		if hasPayload(buf[:m], payload) {
			return true
		}
	}
}

// readFrom reads frames from a tap queue until one carries payload (true)
// or timeout passes; vnet says whether frames carry a virtio_net_hdr.
func readFrom(t testing.TB, f *os.File, vnet bool, payload string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	if err := f.SetReadDeadline(deadline); err != nil {
		t.Fatalf("set read deadline: %v", err)
	}
	buf := make([]byte, 65536)
	for {
		n, err := f.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return false
		}
		if err != nil {
			t.Fatalf("read %s: %v", f.Name(), err)
		}
		b := buf[:n]
		if vnet {
			if len(b) < vnetHdrLen {
				continue
			}
			b = b[vnetHdrLen:]
		}
		if hasPayload(b, payload) {
			return true
		}
	}
}

// writeTo writes a frame to a tap queue, with a zero virtio_net_hdr first
// when vnet is set.
func writeTo(t testing.TB, f *os.File, vnet bool, b []byte) {
	t.Helper()
	if vnet {
		b = append(make([]byte, vnetHdrLen), b...)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatalf("write %s: %v", f.Name(), err)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// fcntlGetfd reports whether f has FD_CLOEXEC.
func fcntlGetfd(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var fl int
	var ferr error
	if err := rc.Control(func(fd uintptr) { fl, ferr = unix.FcntlInt(fd, unix.F_GETFD, 0) }); err != nil {
		return false, err
	}
	return fl&unix.FD_CLOEXEC != 0, ferr
}

// rawFd returns f's descriptor without f.Fd(), which would make it blocking
// and disable read deadlines. The descriptor is valid while f is open.
func rawFd(t testing.TB, f *os.File) int {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// tunGetIffFile runs TUNGETIFF on f.
func tunGetIffFile(f *os.File) (string, uint16, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return "", 0, err
	}
	var (
		name  string
		flags uint16
		ierr  error
	)
	if err := rc.Control(func(fd uintptr) { name, flags, ierr = tunGetIff(int(fd)) }); err != nil {
		return "", 0, err
	}
	return name, flags, ierr
}

// countThreads returns the process's number of OS threads.
func countThreads(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
