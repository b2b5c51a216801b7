package netif

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func TestIntegrationOpenTap(t *testing.T) {
	n := newTestNetns(t)
	ctx := ctxT(t)
	n.ip(t, "tuntap", "add", "dev", "tapsq", "mode", "tap")
	n.ip(t, "tuntap", "add", "dev", "tapmq", "mode", "tap", "multi_queue")
	n.ip(t, "tuntap", "add", "dev", "tun0", "mode", "tun")
	n.ip(t, "link", "set", "tapsq", "up")
	n.veth(t, "p0", "p1")

	tests := []struct {
		name   string
		opts   *OpenOptions
		queues int
		mq     bool
	}{
		{"tapsq", nil, 1, false},
		{"tapsq", &OpenOptions{VnetHdr: true}, 1, false},
		{"tapmq", &OpenOptions{Queues: 3, VnetHdr: true}, 3, true},
		{"tapmq", &OpenOptions{Queues: 1}, 1, true},
	}
	for _, tt := range tests {
		files, err := OpenTap(ctx, n.Path, tt.name, tt.opts)
		if err != nil {
			t.Fatalf("OpenTap %s %+v: %v", tt.name, tt.opts, err)
		}
		if len(files) != tt.queues {
			t.Fatalf("OpenTap %s: %d files, want %d", tt.name, len(files), tt.queues)
		}
		checkQueues(t, files, tt.name, tt.opts.vnetHdr(), tt.mq)
		checkCloexec(t, files)
		for _, f := range files {
			f.Close()
		}
	}

	// Traffic: a frame written to the queue is received by the tap device,
	// a frame the device sends is read from the queue.
	files, err := OpenTap(ctx, n.Path, "tapsq", &OpenOptions{VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer files[0].Close()
	ps := n.openPacket(t, "tapsq")
	writeTo(t, files[0], true, frame(mustMAC("02:00:00:00:00:01"), mustMAC("52:54:00:00:00:01"), "to-host"))
	if !ps.waitFor(t, "to-host", 5*time.Second) {
		t.Error("frame written to the tap queue not seen on the tap device")
	}
	ps.send(t, frame(mustMAC("52:54:00:00:00:01"), mustMAC("02:00:00:00:00:01"), "to-guest"))
	if !readFrom(t, files[0], true, "to-guest", 5*time.Second) {
		t.Error("frame sent on the tap device not read from the queue")
	}

	// Errors leave no file open and no device behind.
	before, fds := n.linkNames(t), openFDs(t)
	bad := []struct {
		name string
		opts *OpenOptions
		kind error
	}{
		{"missing0", nil, os.ErrNotExist},
		{"tapsq", &OpenOptions{Queues: 2}, os.ErrInvalid}, // single-queue tap
		{"tapmq", &OpenOptions{Queues: -1}, os.ErrInvalid},
		{"tapmq", &OpenOptions{Queues: 1000}, os.ErrInvalid},
		{"tun0", nil, os.ErrInvalid},
		{"p0", nil, os.ErrInvalid},
		{"a-name-far-too-long", nil, os.ErrInvalid},
	}
	for _, tt := range bad {
		_, err := OpenTap(ctx, n.Path, tt.name, tt.opts)
		if !errors.Is(err, tt.kind) {
			t.Errorf("OpenTap %s %+v: %v, want %v", tt.name, tt.opts, err, tt.kind)
		}
		var oe *OpError
		if !errors.As(err, &oe) || oe.Link != tt.name {
			t.Errorf("OpenTap %s: error %v is not an *OpError for the link", tt.name, err)
		}
	}
	if _, err := OpenTap(ctx, "/run/netns/nptest-missing", "tapsq", nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenTap in a missing namespace: %v, want os.ErrNotExist", err)
	}
	if got := n.linkNames(t); !slices.Equal(before, got) {
		t.Errorf("links changed by failed opens: %v -> %v", before, got)
	}
	checkNoNewFDs(t, fds, "failed opens")
}

func TestIntegrationBridgeTap(t *testing.T) {
	n := newTestNetns(t)
	ctx := ctxT(t)
	n.ip(t, "link", "add", "br0", "type", "bridge")
	n.ip(t, "link", "set", "br0", "up")
	n.veth(t, "p0", "p1")
	n.ip(t, "link", "set", "p0", "master", "br0")

	guest := mustMAC("52:54:00:aa:bb:cc")
	owner := Owner{VM: "vm", NIC: "net0"}
	l, err := CreateBridgeTap(ctx, &BridgeTapConfig{Bridge: "br0", MAC: guest, Owner: owner, Netns: n.Path})
	if err != nil {
		t.Fatal(err)
	}
	h := n.handle(t)
	nl, err := h.LinkByName(l.Name)
	if err != nil {
		t.Fatal(err)
	}
	br, err := h.LinkByName("br0")
	if err != nil {
		t.Fatal(err)
	}
	tt, ok := nl.(*netlink.Tuntap)
	if !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
		t.Fatalf("%s is %T, want a tap", l.Name, nl)
	}
	a := nl.Attrs()
	type view struct {
		Kind, MAC, Alias, Master string
		Up, Prefix               bool
	}
	want := view{KindTap, "fe:54:00:aa:bb:cc", owner.String(), "br0", true, true}
	got := view{l.Kind, a.HardwareAddr.String(), a.Alias, "", a.Flags&1 != 0, len(l.Name) > len(TapPrefix) && l.Name[:len(TapPrefix)] == TapPrefix}
	if a.MasterIndex == br.Attrs().Index {
		got.Master = "br0"
	}
	if want != got {
		t.Errorf("bridge tap:\nwant %+v\ngot  %+v", want, got)
	}

	files, err := l.Open(ctx, &OpenOptions{Queues: 2, VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	checkQueues(t, files, l.Name, true, true)
	checkCloexec(t, files)
	peer := n.openPacket(t, "p1")
	writeTo(t, files[0], true, frame(mustMAC("ff:ff:ff:ff:ff:ff"), guest, "via-bridge"))
	if !peer.waitFor(t, "via-bridge", 5*time.Second) {
		t.Error("frame written to the tap not forwarded by the bridge to the other port")
	}

	// Bad bridges leave nothing behind.
	before, fds := n.linkNames(t), openFDs(t)
	for _, tc := range []struct {
		bridge string
		kind   error
	}{{"nosuchbr", os.ErrNotExist}, {"p1", os.ErrInvalid}} {
		_, err := CreateBridgeTap(ctx, &BridgeTapConfig{Bridge: tc.bridge, Owner: owner, Netns: n.Path})
		if !errors.Is(err, tc.kind) {
			t.Errorf("CreateBridgeTap on %s: %v, want %v", tc.bridge, err, tc.kind)
		}
	}
	_, err = CreateBridgeTap(ctx, &BridgeTapConfig{Bridge: "br0", Owner: owner, Netns: n.Path, Name: l.Name})
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("CreateBridgeTap with a taken name: %v, want os.ErrExist", err)
	}
	if got := n.linkNames(t); !slices.Equal(before, got) {
		t.Errorf("links changed by failed creates: %v -> %v", before, got)
	}
	checkNoNewFDs(t, fds, "failed creates")

	if err := l.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(n.linkNames(t), l.Name) {
		t.Errorf("%s still exists after Delete", l.Name)
	}
	if err := l.Delete(ctx); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}
