package netif

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// checkQueues checks every file with TUNGETIFF: device name and flags.
func checkQueues(t *testing.T, files []*os.File, name string, vnet, mq bool) {
	t.Helper()
	want := tunFlags(vnet, mq)
	for i, f := range files {
		gotName, gotFlags, err := tunGetIff(rawFd(t, f))
		if err != nil {
			t.Fatalf("queue %d: TUNGETIFF: %v", i, err)
		}
		if gotName != name || gotFlags&tunFeatureMask != want {
			t.Errorf("queue %d: TUNGETIFF = %q %#x, want %q %#x", i, gotName, gotFlags&tunFeatureMask, name, want)
		}
	}
}

// checkCloexec fails unless every file is close-on-exec.
func checkCloexec(t *testing.T, files []*os.File) {
	t.Helper()
	for i, f := range files {
		fl, err := fcntlGetfd(f)
		if err != nil {
			t.Fatal(err)
		}
		if !fl {
			t.Errorf("queue %d is not close-on-exec", i)
		}
	}
}

func TestIntegrationMacvtapModes(t *testing.T) {
	tests := []struct {
		mode   MacvtapMode
		kernel netlink.MacvlanMode
		vnet   bool
	}{
		{MacvtapVEPA, netlink.MACVLAN_MODE_VEPA, false},
		{MacvtapBridge, netlink.MACVLAN_MODE_BRIDGE, true},
		{MacvtapPrivate, netlink.MACVLAN_MODE_PRIVATE, true},
		{MacvtapPassthru, netlink.MACVLAN_MODE_PASSTHRU, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			n := newTestNetns(t)
			n.veth(t, "p0", "p1")
			mac := mustMAC("52:54:00:0f:7d:ad")
			owner := Owner{VM: "vm-" + tt.mode.String(), NIC: "net0"}
			ctx := ctxT(t)
			parentMAC := func() string {
				h := n.rawHandle(t)
				defer h.Close()
				p, err := h.LinkByName("p0")
				if err != nil {
					t.Fatal(err)
				}
				return p.Attrs().HardwareAddr.String()
			}
			parentBefore := parentMAC()
			l, err := CreateMacvtap(ctx, &MacvtapConfig{Parent: "p0", Mode: tt.mode, MAC: mac, Owner: owner, Netns: n.Path})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(l.Name, MacvtapPrefix) || len(l.Name) > maxNameLen {
				t.Errorf("name %q: want prefix %q, at most %d bytes", l.Name, MacvtapPrefix, maxNameLen)
			}

			// The kernel's view of the device.
			nl, err := n.handle(t).LinkByName(l.Name)
			if err != nil {
				t.Fatal(err)
			}
			mv, ok := nl.(*netlink.Macvtap)
			if !ok {
				t.Fatalf("%s is a %T, want *netlink.Macvtap", l.Name, nl)
			}
			a := mv.Attrs()
			want := fmt.Sprintf("index=%d mode=%d mac=%s alias=%s up=true qlen>0=true", l.Index, tt.kernel, mac, owner)
			got := fmt.Sprintf("index=%d mode=%d mac=%s alias=%s up=%t qlen>0=%t", a.Index, mv.Mode, a.HardwareAddr, a.Alias, a.Flags&(1<<0) != 0, a.TxQLen > 0)
			if want != got {
				t.Errorf("device:\nwant %s\ngot  %s", want, got)
			}

			files, err := l.Open(ctx, &OpenOptions{VnetHdr: tt.vnet})
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 {
				t.Fatalf("got %d files, want 1", len(files))
			}
			checkQueues(t, files, l.Name, tt.vnet, false)
			checkCloexec(t, files)

			// Out: a frame written to the queue leaves through the parent.
			peer := n.openPacket(t, "p1")
			out := "out-" + tt.mode.String()
			writeTo(t, files[0], tt.vnet, frame(mustMAC("02:00:00:00:00:01"), mac, out))
			if !peer.waitFor(t, out, 5*time.Second) {
				t.Errorf("frame written to %s not seen on the parent's peer", l.Name)
			}
			// In: a frame sent to the guest MAC arrives on the queue.
			in := "in-" + tt.mode.String()
			peer.send(t, frame(mac, mustMAC("02:00:00:00:00:01"), in))
			if !readFrom(t, files[0], tt.vnet, in, 5*time.Second) {
				t.Errorf("frame sent to %s not read from %s", mac, l.Name)
			}

			if err := l.Delete(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := files[0].Write(make([]byte, 60)); !errors.Is(err, os.ErrClosed) {
				t.Errorf("write after Delete: %v, want os.ErrClosed (Delete closes the queues)", err)
			}
			for _, name := range n.linkNames(t) {
				if name == l.Name {
					t.Errorf("%s still exists after Delete", l.Name)
				}
			}
			// Passthrough sets the parent's MAC; the kernel restores it.
			if got := parentMAC(); got != parentBefore {
				t.Errorf("parent MAC after Delete: %s, was %s", got, parentBefore)
			}
			if err := l.Delete(ctx); err != nil {
				t.Errorf("second Delete: %v, want nil", err)
			}
			// A device that is not there is reported, not counted as
			// deleted: it may live on in another namespace.
			if err := DeleteLink(ctx, n.Path, l.Name); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), n.Path) {
				t.Errorf("DeleteLink of a deleted link: %v, want os.ErrNotExist naming %s", err, n.Path)
			}
		})
	}
}

func TestIntegrationMacvtapMultiQueue(t *testing.T) {
	n := newTestNetns(t)
	n.veth(t, "p0", "p1")
	ctx := ctxT(t)
	l, err := CreateMacvtap(ctx, &MacvtapConfig{Parent: "p0", Mode: MacvtapBridge, MAC: mustMAC("52:54:00:00:00:02"), Owner: Owner{"vm", "net0"}, Netns: n.Path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Delete(ctx) })
	for _, tt := range []struct {
		queues int
		vnet   bool
	}{{4, true}, {2, false}, {1, true}} {
		files, err := l.Open(ctx, &OpenOptions{Queues: tt.queues, VnetHdr: tt.vnet})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != tt.queues {
			t.Fatalf("Queues %d: got %d files", tt.queues, len(files))
		}
		checkQueues(t, files, l.Name, tt.vnet, tt.queues > 1)
		checkCloexec(t, files)
		for _, f := range files {
			f.Close()
		}
	}
}

// TestIntegrationMacvtapSameIfindex puts two macvtaps with the same name and
// the same ifindex in two namespaces: /dev/tap<ifindex> can be only one of
// them, yet each Open must return its own device.
func TestIntegrationMacvtapSameIfindex(t *testing.T) {
	ctx := ctxT(t)
	type side struct {
		ns    *testNetns
		path  string
		mac   string
		link  *Link
		files []*os.File
		peer  *packetSocket
	}
	sides := []*side{{mac: "52:54:00:00:00:0a"}, {mac: "52:54:00:00:00:0b"}}
	for i, s := range sides {
		s.ns = newTestNetns(t)
		s.ns.veth(t, "p0", "p1")
		s.path = s.ns.Path
		if i == 1 {
			// Name the second namespace by file descriptor.
			f, err := os.Open(s.ns.Path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			s.path = fmt.Sprintf("/proc/self/fd/%d", f.Fd())
		}
		var err error
		s.link, err = CreateMacvtap(ctx, &MacvtapConfig{Parent: "p0", Mode: MacvtapBridge, MAC: mustMAC(s.mac), Owner: Owner{"vm", fmt.Sprint("net", i)}, Netns: s.path, Name: "npmvtsame"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.link.Delete(ctx) })
	}
	if sides[0].link.Index != sides[1].link.Index {
		t.Fatalf("ifindexes differ (%d, %d): the namespaces were not set up alike", sides[0].link.Index, sides[1].link.Index)
	}
	for _, s := range sides {
		var err error
		s.files, err = s.link.Open(ctx, &OpenOptions{Queues: 2})
		if err != nil {
			t.Fatal(err)
		}
		checkQueues(t, s.files, "npmvtsame", false, true)
		for i, f := range s.files {
			got, err := tapHWAddr(rawFd(t, f))
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != s.mac {
				t.Errorf("%s queue %d is the macvtap with MAC %s, want %s", s.path, i, got, s.mac)
			}
		}
		s.peer = s.ns.openPacket(t, "p1")
	}
	// Traffic written to each side's queues leaves through that side only.
	for i, s := range sides {
		other := sides[1-i]
		payload := "side-" + s.mac
		writeTo(t, s.files[1], false, frame(mustMAC("02:00:00:00:00:01"), mustMAC(s.mac), payload))
		if !s.peer.waitFor(t, payload, 5*time.Second) {
			t.Errorf("frame from %s's macvtap not seen on its own peer", s.path)
		}
		if other.peer.waitFor(t, payload, 300*time.Millisecond) {
			t.Errorf("frame from %s's macvtap seen in the other namespace", s.path)
		}
	}
}

// TestIntegrationCallerNetns creates, opens and deletes with Netns "" from
// a goroutine whose thread is in a test namespace: "" means the caller's.
func TestIntegrationCallerNetns(t *testing.T) {
	n := newTestNetns(t)
	n.veth(t, "p0", "p1")
	ctx := ctxT(t)
	target, err := netns.GetFromPath(n.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()

	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		err = func() error {
			l, err := CreateMacvtap(ctx, &MacvtapConfig{Parent: "p0", MAC: mustMAC("52:54:00:00:00:03"), Owner: Owner{"vm", "net0"}})
			if err != nil {
				return err
			}
			files, err := l.Open(ctx, &OpenOptions{VnetHdr: true})
			if err != nil {
				l.Delete(ctx)
				return err
			}
			name, _, err := tunGetIffFile(files[0])
			if err != nil || name != l.Name {
				l.Delete(ctx)
				return fmt.Errorf("TUNGETIFF: %q %v, want %q", name, err, l.Name)
			}
			owned, err := ListOwned(ctx, "")
			if err != nil || len(owned) != 1 || owned[0].Name != l.Name {
				l.Delete(ctx)
				return fmt.Errorf("ListOwned: %v %v, want just %s", owned, err, l.Name)
			}
			return l.Delete(ctx)
		}()
		if rerr := netns.Set(orig); rerr != nil {
			done <- errors.Join(err, rerr) // stay locked: thread discarded
			return
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := n.linkNames(t); len(got) != 3 {
		t.Errorf("links left in the namespace: %v, want lo p0 p1", got)
	}
}
