package netif

import (
	"encoding/binary"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// virtio_net_hdr constants (include/uapi/linux/virtio_net.h).
const (
	vnetHdrFNeedsCsum = 1
	vnetHdrGSOTCPv4   = 1
)

// Legacy ethtool commands (include/uapi/linux/ethtool.h).
const (
	ethtoolSTXCSUM = 0x17
	ethtoolSTSO    = 0x1f
)

// setOffload runs `ethtool -K dev tx off tso off` (or on) through
// SIOCETHTOOL inside the namespace: this machine has no ethtool binary.
func (n *testNetns) setOffload(t testing.TB, dev string, on bool) {
	t.Helper()
	err := nsOf(t, n).do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for _, cmd := range []uint32{ethtoolSTXCSUM, ethtoolSTSO} {
			val := struct{ cmd, data uint32 }{cmd, 0}
			if on {
				val.data = 1
			}
			var ifr struct {
				name [unix.IFNAMSIZ]byte
				data unsafe.Pointer // a pointer, so the GC keeps val alive and up to date
				_    [16]byte
			}
			copy(ifr.name[:], dev)
			ifr.data = unsafe.Pointer(&val)
			if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
				return errno
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("SIOCETHTOOL %s: %v", dev, err)
	}
}

// csumFold folds a 32-bit one's complement sum to 16 bits.
func csumFold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

func csumAdd(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

// tcpPseudo is the sum of the IPv4 pseudo-header of a TCP segment.
func tcpPseudo(ip []byte, tcpLen int) uint32 {
	sum := csumAdd(0, ip[12:20])
	return sum + unix.IPPROTO_TCP + uint32(tcpLen)
}

// gsoFrame is a TSO frame as a guest's virtio-net driver hands it over: a
// virtio_net_hdr (NEEDS_CSUM, GSO TCPv4, gso_size mss), Ethernet, IPv4
// with a correct header checksum, TCP with the pseudo-header sum in its
// checksum field (CHECKSUM_PARTIAL), and payload bytes of data.
func gsoFrame(dst, src []byte, payload, mss int) []byte {
	const ethLen, ipLen, tcpLen = 14, 20, 20
	b := make([]byte, vnetHdrLen+ethLen+ipLen+tcpLen+payload)
	v := b[:vnetHdrLen]
	v[0] = vnetHdrFNeedsCsum
	v[1] = vnetHdrGSOTCPv4
	binary.LittleEndian.PutUint16(v[2:], ethLen+ipLen+tcpLen) // hdr_len
	binary.LittleEndian.PutUint16(v[4:], uint16(mss))         // gso_size
	binary.LittleEndian.PutUint16(v[6:], ethLen+ipLen)        // csum_start
	binary.LittleEndian.PutUint16(v[8:], 16)                  // csum_offset: TCP checksum
	e := b[vnetHdrLen:]
	copy(e[0:6], dst)
	copy(e[6:12], src)
	binary.BigEndian.PutUint16(e[12:], unix.ETH_P_IP)
	ip := e[ethLen:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+tcpLen+payload))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8] = 64
	ip[9] = unix.IPPROTO_TCP
	copy(ip[12:16], []byte{192, 0, 2, 1})
	copy(ip[16:20], []byte{192, 0, 2, 2})
	binary.BigEndian.PutUint16(ip[10:], ^csumFold(csumAdd(0, ip[:ipLen])))
	tcp := ip[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1000) // seq
	tcp[12] = 5 << 4
	tcp[13] = 0x18 // PSH|ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	for i := range payload {
		tcp[tcpLen+i] = byte(i)
	}
	binary.BigEndian.PutUint16(tcp[16:], csumFold(tcpPseudo(ip, tcpLen+payload)))
	return b
}

// segment is what the test reads back from a TCP/IPv4 frame.
type segment struct {
	frameLen, ipLen, payload int
	seq                      uint32
	csumOK                   bool
}

func parseSegment(b []byte) (segment, bool) {
	if len(b) < 54 || binary.BigEndian.Uint16(b[12:]) != unix.ETH_P_IP || b[23] != unix.IPPROTO_TCP {
		return segment{}, false
	}
	ip := b[14:]
	ipLen := int(binary.BigEndian.Uint16(ip[2:]))
	if ipLen > len(ip) || ipLen < 40 {
		return segment{}, false
	}
	tcp := ip[20:ipLen]
	s := segment{frameLen: len(b), ipLen: ipLen, payload: len(tcp) - 20, seq: binary.BigEndian.Uint32(tcp[4:])}
	s.csumOK = csumFold(csumAdd(tcpPseudo(ip, len(tcp)), tcp)) == 0xffff
	return s, true
}

// TestIntegrationRedirectGSO writes a 3000-byte TSO frame (vnet_hdr
// gso_type TCPv4, NEEDS_CSUM) to a tap redirected to a macvlan on a veth
// and reads what comes out of the veth's peer. With the veth's offloads on,
// the kernel keeps the frame whole end to end (veth forwards GSO packets:
// the peer gets one 3054-byte frame, to be segmented, if ever, where it
// leaves the host); with tx checksumming and TSO off on the veth
// (`ethtool -K tx off tso off`) it is segmented in software at the veth
// into MSS-sized segments with consecutive sequence numbers and correct
// TCP checksums.
func TestIntegrationRedirectGSO(t *testing.T) {
	r := newRedirectRig(t)
	n, ctx := r.n, ctxT(t)
	if err := AddRedirect(ctx, n.Path, "nph1tap", "nph1mvl0"); err != nil {
		t.Fatal(err)
	}
	const payload, mss = 3000, 1448
	send := func() []segment {
		r.peer[0].drain(t)
		if _, err := r.q.Write(gsoFrame(mustMAC(r.remote), mustMAC(r.guest), payload, mss)); err != nil {
			t.Fatalf("write GSO frame: %v", err)
		}
		var segs []segment
		for _, b := range r.peer[0].collect(t, 500*time.Millisecond) {
			if s, ok := parseSegment(b); ok {
				segs = append(segs, s)
			}
		}
		return segs
	}

	whole := send()
	t.Logf("offloads on: %+v", whole)
	if len(whole) != 1 || whole[0].payload != payload {
		t.Errorf("offloads on: got %+v, want one unsegmented frame of %d payload bytes", whole, payload)
	}

	n.setOffload(t, "nph1v0", false)
	segs := send()
	t.Logf("tx/tso off: %+v", segs)
	var total int
	for i, s := range segs {
		want := min(mss, payload-total)
		if s.payload != want || s.seq != uint32(1000+total) || !s.csumOK || s.frameLen != 14+40+want {
			t.Errorf("segment %d: %+v, want %d payload bytes at seq %d with a valid checksum", i, s, want, 1000+total)
		}
		total += s.payload
	}
	if len(segs) != 3 || total != payload {
		t.Errorf("tx/tso off: %d segments carrying %d bytes, want 3 carrying %d", len(segs), total, payload)
	}
}
