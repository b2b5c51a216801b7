package netif

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// redirectRig is a fixed tap opened with vnet_hdr and two macvlans with the
// guest's MAC, each on its own veth pair whose far end has a packet socket.
type redirectRig struct {
	n      *testNetns
	guest  string
	tap    *Link
	q      *os.File
	mvl    [2]*Link
	peer   [2]*packetSocket
	remote string // the remote end's MAC
}

func newRedirectRig(t *testing.T) *redirectRig {
	t.Helper()
	n := newNph1Netns(t)
	ctx := ctxT(t)
	r := &redirectRig{n: n, guest: "52:54:00:00:cc:01", remote: "02:00:00:00:cc:02"}
	owner := Owner{"vm", "net0"}
	var err error
	r.tap, err = CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1tap", MAC: mustMAC(r.guest), UID: -1, GID: -1, Owner: owner, Netns: n.Path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.tap.Delete(ctx) })
	files, err := r.tap.Open(ctx, &OpenOptions{VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	r.q = files[0]
	for i := range 2 {
		parent, peer := fmt.Sprintf("nph1v%d", 2*i), fmt.Sprintf("nph1v%d", 2*i+1)
		n.veth(t, parent, peer)
		r.mvl[i], err = CreateMacvlan(ctx, &MacvlanConfig{Name: fmt.Sprintf("nph1mvl%d", i), Parent: parent, Mode: MacvtapBridge, MAC: mustMAC(r.guest), Owner: owner, Netns: n.Path})
		if err != nil {
			t.Fatal(err)
		}
		r.peer[i] = n.openPacket(t, peer)
	}
	return r
}

// out writes a frame to the tap and reports on which peers it came out.
func (r *redirectRig) out(t *testing.T, payload string) [2]bool {
	t.Helper()
	writeTo(t, r.q, true, frame(mustMAC(r.remote), mustMAC(r.guest), payload))
	return [2]bool{r.peer[0].waitFor(t, payload, 300*time.Millisecond), r.peer[1].waitFor(t, payload, 300*time.Millisecond)}
}

// in sends a frame to the guest MAC from peer i and reports whether the
// tap's queue got it.
func (r *redirectRig) in(t *testing.T, i int, payload string) bool {
	t.Helper()
	r.peer[i].send(t, frame(mustMAC(r.guest), mustMAC(r.remote), payload))
	return readFrom(t, r.q, true, payload, 300*time.Millisecond)
}

func (r *redirectRig) plug(t *testing.T) TapPlug {
	t.Helper()
	p, err := ReadTapPlug(ctxT(t), r.n.Path, "nph1tap")
	if err != nil {
		t.Fatal(err)
	}
	return *p
}

// TestIntegrationRedirect joins a vnet_hdr tap and a macvlan with a pair
// of redirects and checks, with frames both ways, that they carry traffic
// with the guest MAC, that a replace moves the tap's side to another
// macvlan in place (same filter handle), that the read-back reports it,
// and that after DelRedirect nothing flows and the qdiscs are gone.
func TestIntegrationRedirect(t *testing.T) {
	r := newRedirectRig(t)
	n, ctx := r.n, ctxT(t)
	for _, p := range [][2]string{{"nph1tap", "nph1mvl0"}, {"nph1mvl0", "nph1tap"}} {
		if err := AddRedirect(ctx, n.Path, p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.plug(t); got.Redirect != "nph1mvl0" || !got.Back || got.Master != "" {
		t.Errorf("plug: %+v, want redirect nph1mvl0 and back", got)
	}
	if got := r.out(t, "out-0"); got != [2]bool{true, false} {
		t.Errorf("tap → macvlan 0: frame came out of the peers %v, want [true false]", got)
	}
	if !r.in(t, 0, "in-0") {
		t.Error("frame sent to the guest MAC on veth 0 not read from the tap")
	}
	// The tap's frames come out with the guest MAC as source.
	writeTo(t, r.q, true, frame(mustMAC(r.remote), mustMAC(r.guest), "src-check"))
	var src string
	for _, b := range r.peer[0].collect(t, 300*time.Millisecond) {
		if hasPayload(b, "src-check") {
			src = netHW(b[6:12])
		}
	}
	if src != r.guest {
		t.Errorf("source MAC on the wire %q, want the guest's %s", src, r.guest)
	}

	handle := func() uint32 {
		h := n.rawHandle(t)
		defer h.Close()
		tap, err := h.LinkByName("nph1tap")
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := findRedirect(h, nsOf(t, n), tap)
		if err != nil || f == nil {
			t.Fatalf("no redirect on the tap: %v", err)
		}
		return f.Handle
	}
	h0 := handle()
	// Move: the tap's redirect replaced, macvlan 1 redirected back.
	if err := AddRedirect(ctx, n.Path, "nph1mvl1", "nph1tap"); err != nil {
		t.Fatal(err)
	}
	if err := AddRedirect(ctx, n.Path, "nph1tap", "nph1mvl1"); err != nil {
		t.Fatal(err)
	}
	if h1 := handle(); h1 != h0 {
		t.Errorf("replace changed the filter handle %#x → %#x: not replaced in place", h0, h1)
	}
	if got := n.tc(t, "filter", "show", "dev", "nph1tap", "ingress"); strings.Count(got, "mirred") != 1 {
		t.Errorf("tap ingress after the move:\n%s\nwant exactly one mirred action", got)
	}
	if got := r.plug(t); got.Redirect != "nph1mvl1" || !got.Back {
		t.Errorf("plug after the move: %+v", got)
	}
	if got := r.out(t, "out-1"); got != [2]bool{false, true} {
		t.Errorf("tap → macvlan 1: frame came out of the peers %v, want [false true]", got)
	}
	if !r.in(t, 1, "in-1") {
		t.Error("frame sent on veth 1 not read from the tap")
	}
	// macvlan 0 still redirects to the tap, but the tap no longer back.
	if err := AddRedirect(ctx, n.Path, "nph1tap", "nph1mvl1"); err != nil {
		t.Errorf("AddRedirect to the same target again: %v", err)
	}

	for _, from := range []string{"nph1tap", "nph1mvl0", "nph1mvl1"} {
		if err := DelRedirect(ctx, n.Path, from); err != nil {
			t.Fatal(err)
		}
		if got := n.tc(t, "qdisc", "show", "dev", from); strings.Contains(got, "ingress") {
			t.Errorf("ingress qdisc left on the owned %s after DelRedirect:\n%s", from, got)
		}
	}
	if got := r.plug(t); got.Redirect != "" || got.Back {
		t.Errorf("plug after DelRedirect: %+v", got)
	}
	if got := r.out(t, "out-none"); got != [2]bool{} {
		t.Errorf("after DelRedirect a frame from the tap came out of %v", got)
	}
	if r.in(t, 0, "in-none") || r.in(t, 1, "in-none") {
		t.Error("after DelRedirect a frame from a veth reached the tap")
	}
	if err := DelRedirect(ctx, n.Path, "nph1tap"); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "no nicplug redirect on the ingress of \"nph1tap\"") {
		t.Errorf("second DelRedirect: %v, want os.ErrNotExist", err)
	}
}

func netHW(b []byte) string { return fmt.Sprint(netHWAddr(b)) }

// TestIntegrationRedirectNoGap streams frames from the tap while its
// redirect is replaced from macvlan 0 to macvlan 1: every frame must come
// out of one of the two veths (a replace never leaves a moment with no
// filter, which would hand frames to the stack, where they vanish).
func TestIntegrationRedirectNoGap(t *testing.T) {
	r := newRedirectRig(t)
	n, ctx := r.n, ctxT(t)
	for i := range 2 {
		r.peer[i].setRcvbuf(t, 32<<20)
	}
	if err := AddRedirect(ctx, n.Path, "nph1tap", "nph1mvl0"); err != nil {
		t.Fatal(err)
	}
	const frames = 3000
	done := make(chan error, 1)
	go func() {
		for i := range frames {
			if i == frames/2 {
				done <- AddRedirect(ctx, n.Path, "nph1tap", "nph1mvl1")
			}
			b := append(make([]byte, vnetHdrLen), frame(mustMAC(r.remote), mustMAC(r.guest), fmt.Sprintf("seq-%05d", i))...)
			for {
				if _, err := r.q.Write(b); err == nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := range 2 {
		for _, b := range r.peer[i].collect(t, time.Second) {
			if len(b) >= 23 && hasPayload(b, "seq-") {
				seen[string(b[14:23])] |= 1 << i
			}
		}
	}
	var lost, both, on1 int
	for i := range frames {
		switch seen[fmt.Sprintf("seq-%05d", i)] {
		case 0:
			lost++
		case 3:
			both++
		case 2:
			on1++
		}
	}
	if lost != 0 || both != 0 || on1 == 0 || on1 == frames {
		t.Errorf("%d frames: %d lost, %d seen on both veths, %d on the new one; want 0, 0 and some", frames, lost, both, on1)
	}
}

// TestIntegrationRedirectForeign redirects a user's interface (not
// nicplug's, with an ingress filter of its own) to a tap and back, and
// checks DelRedirect keeps the user's filter and qdisc; and that refused
// redirects (two foreign devices, a taken priority, missing devices) leave
// nothing behind.
func TestIntegrationRedirectForeign(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	n.veth(t, "nph1u0", "nph1u1")
	n.veth(t, "nph1w0", "nph1w1")
	n.tc(t, "qdisc", "add", "dev", "nph1u0", "ingress")
	n.tc(t, "filter", "add", "dev", "nph1u0", "ingress", "pref", "10", "protocol", "ip", "u32", "match", "ip", "dst", "192.0.2.1/32", "action", "mirred", "egress", "mirror", "dev", "nph1w1")
	tap, err := CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1tap", UID: -1, GID: -1, Owner: Owner{"vm", "net0"}, Netns: n.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Delete(ctx)
	files, err := tap.Open(ctx, &OpenOptions{VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer files[0].Close()
	userBefore := n.tc(t, "filter", "show", "dev", "nph1u0", "ingress")

	if err := AddRedirect(ctx, n.Path, "nph1u0", "nph1tap"); err != nil {
		t.Fatal(err)
	}
	if err := AddRedirect(ctx, n.Path, "nph1tap", "nph1u0"); err != nil {
		t.Fatal(err)
	}
	if p, err := ReadTapPlug(ctx, n.Path, "nph1tap"); err != nil || p.Redirect != "nph1u0" || !p.Back {
		t.Errorf("plug: %+v, %v", p, err)
	}
	peer := n.openPacket(t, "nph1u1")
	peer.send(t, frame(mustMAC("52:54:00:00:dd:01"), mustMAC("02:00:00:00:dd:02"), "user-in"))
	if !readFrom(t, files[0], true, "user-in", 2*time.Second) {
		t.Error("frame received on the user's interface not redirected to the tap")
	}
	writeTo(t, files[0], true, frame(mustMAC("02:00:00:00:dd:02"), mustMAC("52:54:00:00:dd:01"), "user-out"))
	if !peer.waitFor(t, "user-out", 2*time.Second) {
		t.Error("frame from the tap not sent out of the user's interface")
	}

	if err := DelRedirect(ctx, n.Path, "nph1u0"); err != nil {
		t.Fatal(err)
	}
	if got := n.tc(t, "filter", "show", "dev", "nph1u0", "ingress"); got != userBefore {
		t.Errorf("DelRedirect changed the user's filters:\n%s\n->\n%s", userBefore, got)
	}
	// Even with no filter left, a foreign device's qdisc is never removed.
	n.tc(t, "filter", "del", "dev", "nph1u0", "ingress", "pref", "10")
	if err := AddRedirect(ctx, n.Path, "nph1u0", "nph1tap"); err != nil {
		t.Fatal(err)
	}
	if err := DelRedirect(ctx, n.Path, "nph1u0"); err != nil {
		t.Fatal(err)
	}
	if got := n.tc(t, "qdisc", "show", "dev", "nph1u0"); !strings.Contains(got, "ingress") {
		t.Errorf("DelRedirect removed the ingress qdisc of a foreign device:\n%s", got)
	}
	if err := DelRedirect(ctx, n.Path, "nph1tap"); err != nil {
		t.Fatal(err)
	}

	// Somebody else's filter at nicplug's priority.
	n.tc(t, "qdisc", "add", "dev", "nph1w0", "ingress")
	n.tc(t, "filter", "add", "dev", "nph1w0", "ingress", "pref", fmt.Sprint(RedirectPriority), "protocol", "ip", "u32", "match", "ip", "dst", "192.0.2.1/32", "action", "mirred", "egress", "mirror", "dev", "nph1w1")

	before, fds := n.state(t), openFDs(t)
	for _, tc := range []struct {
		from, to string
		kind     error
		substr   string
	}{
		{"nph1u0", "nph1u1", ErrNotOwned, "refusing to redirect between two foreign devices"},
		{"nph1w0", "nph1tap", nil, "holds a u32 filter that is not nicplug's redirect"},
		{"nph1gone", "nph1tap", os.ErrNotExist, `source device "nph1gone" not found in network namespace /run/netns/nph1-`},
		{"nph1tap", "nph1gone", os.ErrNotExist, `target device "nph1gone" not found`},
		{"nph1tap", "nph1tap", os.ErrInvalid, "to itself"},
		{"nph1tap", "bad name", os.ErrInvalid, "contains"},
	} {
		err := AddRedirect(ctx, n.Path, tc.from, tc.to)
		if err == nil || (tc.kind != nil && !errors.Is(err, tc.kind)) || !strings.Contains(err.Error(), tc.substr) || strings.Contains(err.Error(), "\n") {
			t.Errorf("AddRedirect %s → %s: %v, want a one-line error (%v) containing %q", tc.from, tc.to, err, tc.kind, tc.substr)
		}
	}
	for _, from := range []string{"nph1tap", "nph1u1", "nph1gone"} {
		if err := DelRedirect(ctx, n.Path, from); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("DelRedirect %s: %v, want os.ErrNotExist", from, err)
		}
	}
	n.checkState(t, before, "refused redirects")
	checkNoNewFDs(t, fds, "refused redirects")
}
