package e2e_test

// End-to-end tests of the tap datapath (a NIC whose <driver> asks for
// queues > 1: peered for life with a fixed host tap that nicplug re-plumbs
// on the host) with the busybox guest. A VLAN change on a bridge and
// vhost-net (<driver name='vhost'>) need kernel features this machine's
// kernel lacks (bridge VLAN filtering, /dev/vhost-net): their tests are
// in vlanguest_test.go and vhost_test.go, run for real by
// internal/kernelvm. No KVM either: QEMU runs under TCG.

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/testenv"
)

// Virtio-net feature bits, as indexes into the guest's
// /sys/class/net/eth0/device/features (one character per bit).
var offloadBits = []struct {
	bit  int
	name string
}{
	{0, "CSUM"}, {1, "GUEST_CSUM"}, {7, "GUEST_TSO4"}, {8, "GUEST_TSO6"},
	{11, "HOST_TSO4"}, {12, "HOST_TSO6"},
}

const virtioNetFMQ = 22 // VIRTIO_NET_F_MQ

// TestIntegrationTapFeatures boots a guest with a hub-datapath NIC and one
// with a tap-datapath NIC of four queue pairs (both virtio, four vCPUs
// each) and compares what their guests see: the tap NIC has the checksum
// and TSO offloads (vnet_hdr) and multiqueue that the hub NIC lacks, four
// rx and four tx queues, and it carries traffic (a lease and a ping on a
// bridge).
func TestIntegrationTapFeatures(t *testing.T) {
	l := newTapLANs(t)
	fast := &nicplug.Config{Netns: l.host, CarrierHold: nicplug.NoCarrierHold}
	hub := bootWith(t, bootOpts{nic: noneXML, cfg: fast, cpus: 4})
	tap := bootWith(t, bootOpts{nic: tapNIC("none", "", 4), cfg: fast, tapNetns: l.host, cpus: 4})
	features := func(r *rig) string {
		t.Helper()
		out, code := r.exec("cat /sys/class/net/eth0/device/features")
		if code != 0 || len(out) < 64 {
			t.Fatalf("guest's eth0 features: %q (status %d)", out, code)
		}
		return out
	}
	v := testenv.QEMUVersion(t)
	hf, tf := features(hub), features(tap)
	t.Logf("QEMU %v: guest features, hub datapath: %s", v, hf)
	t.Logf("QEMU %v: guest features, tap datapath: %s", v, tf)
	for _, b := range append(offloadBits, struct {
		bit  int
		name string
	}{virtioNetFMQ, "MQ"}) {
		if hf[b.bit] != '0' {
			t.Errorf("QEMU %v: %s (bit %d) is on behind the hub: %s", v, b.name, b.bit, hf)
		}
		if tf[b.bit] != '1' {
			t.Errorf("QEMU %v: %s (bit %d) is off behind the fixed tap: %s", v, b.name, b.bit, tf)
		}
	}
	hrx, htx := hub.queueCounts()
	trx, ttx := tap.queueCounts()
	t.Logf("QEMU %v: guest queues, hub datapath: %d rx, %d tx; tap datapath (queues='4', 4 vCPUs): %d rx, %d tx", v, hrx, htx, trx, ttx)
	if hrx != 1 || htx != 1 {
		t.Errorf("hub NIC: %d rx and %d tx queues, want 1 and 1", hrx, htx)
	}
	if trx != 4 || ttx != 4 {
		t.Errorf("tap NIC: %d rx and %d tx queues, want 4 and 4", trx, ttx)
	}
	tap.plug("plug the 4-queue NIC into a bridge",
		tapNIC("bridge", "\n  <source bridge='"+l.br1.Bridge+"'/>", 4), l.br1.Subnet)
	tap.checkTap(l, bridgeTo(l.br1.Bridge))
}

// TestIntegrationTapMoves moves one tap-datapath NIC (two queue pairs, two
// vCPUs) through every host backend: boot unplugged, plug into a bridge,
// move to a direct (macvlan) backend, to another bridge, unplug. After
// each step the guest has a lease on the new LAN and pings its router,
// and no other LAN's router answers it (ARP probe, ping); the host shows
// the fixed tap plugged into the new backend only; the guest's NIC is the
// same device throughout. (VLAN changes: TestIntegrationTapVLANGuest.)
func TestIntegrationTapMoves(t *testing.T) {
	l := newTapLANs(t)
	r := bootWith(t, bootOpts{nic: tapNoneXML, cfg: &nicplug.Config{Netns: l.host, CarrierHold: carrierHold},
		tapNetns: l.host, cpus: 2})
	id := r.nicIdentity()

	// Booted unplugged: carrier 0, no lease, the tap plugged into nothing.
	if _, err := r.g.WaitEvent(r.ctx(), 0, guest.Match(guest.KindCarrier, "0")); err != nil {
		t.Fatal(err)
	}
	r.quiet(r.g.Seq(), 2*time.Second)
	r.checkOffline()
	r.checkTap(l, domain.Backend{Type: domain.TypeNone})
	r.checkOnly("booted unplugged", l.all, nil)
	if rx, tx := r.queueCounts(); rx != 2 || tx != 2 {
		t.Errorf("guest's eth0 has %d rx and %d tx queues, want 2 and 2", rx, tx)
	}

	for _, step := range []struct {
		what string
		xml  []byte
		want domain.Backend
		lan  int // index in l.all
	}{
		{"plug bridge " + l.br1.Bridge, tapBridgeXML(l.br1.Bridge), bridgeTo(l.br1.Bridge), 1},
		{"move bridge→direct " + l.direct.Parent, tapDirectXML(l.direct.Parent), directTo(l.direct.Parent), 0},
		{"move direct→bridge " + l.br2.Bridge, tapBridgeXML(l.br2.Bridge), bridgeTo(l.br2.Bridge), 2},
		{"move bridge→bridge " + l.br1.Bridge, tapBridgeXML(l.br1.Bridge), bridgeTo(l.br1.Bridge), 1},
	} {
		n := l.all[step.lan]
		plugged := r.iface0().LinkUp
		c := r.plug(step.what, step.xml, n.Subnet)
		if c.Router != n.Router {
			t.Errorf("%s: router %s, want %s", step.what, c.Router, n.Router)
		}
		if plugged && c.Down == nil {
			t.Errorf("%s: the guest never saw carrier 0 during the move", step.what)
		}
		r.checkTap(l, step.want)
		r.checkOnly(step.what, l.all, n)
	}

	r.unplug("unplug", tapNoneXML)
	r.checkTap(l, domain.Backend{Type: domain.TypeNone})
	r.checkOnly("unplugged", l.all, nil)
	r.quiet(r.g.Seq(), 2*time.Second)

	r.checkSameNIC(t, id)
}

// TestIntegrationTapFailedPlans plugs a tap-datapath NIC into a bridge and
// applies updates that must fail on the host: a direct backend whose
// parent does not exist and a bridge that does not exist. Each fails with
// an error naming the missing device, rolled back; the guest still pings
// its router and the host shows the tap on its bridge, with no macvlan or
// redirect left. The VM then still moves.
func TestIntegrationTapFailedPlans(t *testing.T) {
	l := newTapLANs(t)
	r := bootWith(t, bootOpts{nic: tapNoneXML, cfg: &nicplug.Config{Netns: l.host, CarrierHold: carrierHold},
		tapNetns: l.host, cpus: 2})
	r.plug("plug bridge", tapBridgeXML(l.br1.Bridge), l.br1.Subnet)
	on := bridgeTo(l.br1.Bridge)
	router := l.br1.Router.String()
	before := r.hostState(l)

	for _, c := range []struct {
		what, missing string
		xml           []byte
		early         bool // fails before the link goes down (all do: a macvlan is created, a bridge checked, at prepare)
	}{
		{"direct on a missing parent", "nph2nodev", tapDirectXML("nph2nodev"), true},
		{"a missing bridge", "nph2nobr", tapBridgeXML("nph2nobr"), true},
	} {
		if p, err := r.vm.PlanUpdate(r.ctx(), c.xml); err == nil {
			t.Logf("plan of the update to %s:\n%v", c.what, p)
		}
		from := r.g.Seq()
		t0 := time.Now()
		err := r.vm.UpdateDevice(r.ctx(), c.xml)
		t.Logf("update to %s: failed in %v: %v", c.what, ms(time.Since(t0)), err)
		var se *nicplug.StepError
		if !errors.As(err, &se) {
			t.Fatalf("update to %s: %v, want a *nicplug.StepError", c.what, err)
		}
		if !strings.Contains(err.Error(), c.missing) {
			t.Errorf("update to %s: error %q does not name %s", c.what, err, c.missing)
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("update to %s: error %q does not match os.ErrNotExist", c.what, err)
		}
		if se.UndoErr != nil {
			t.Errorf("update to %s: rollback failed: %v", c.what, se.UndoErr)
		}
		// A plan that fails before it takes the link down (creating the
		// macvlan, checking the bridge: prepare steps) leaves the guest
		// undisturbed. One that failed after would roll back and bring the
		// link up again: the guest would see the flap and must be back on
		// its LAN.
		flapped := false
		for _, ev := range r.g.Events()[from:] {
			if ev.Kind == guest.KindCarrier && ev.Arg(0) == "0" {
				flapped = true
			}
		}
		if flapped {
			t.Logf("update to %s: the guest saw its carrier drop during the failed plan (the link is taken down before step %d fails)", c.what, se.Step)
			if _, err := waitConnected(r, from, l.br1.Subnet); err != nil {
				t.Errorf("update to %s: the guest is not back on %s after the rollback: %v", c.what, l.br1.Subnet, err)
			}
		} else if evs := r.g.Events()[from:]; len(evs) != 0 {
			t.Errorf("update to %s: the guest reported %q during the failed plan", c.what, evs)
		}
		if c.early && flapped {
			t.Errorf("update to %s: fails at prepare, yet the guest saw its link go down", c.what)
		}
		if !r.ping(router) {
			t.Errorf("after the failed update to %s: the guest does not ping %s", c.what, router)
		}
		if out, _ := r.exec("cat /sys/class/net/eth0/carrier"); out != "1" {
			t.Errorf("after the failed update to %s: guest's carrier %q, want 1", c.what, out)
		}
		r.checkTap(l, on)
		after := r.hostState(l)
		if after.Plug.Master != before.Plug.Master || after.Plug.Redirect != before.Plug.Redirect || after.Plug.Back != before.Plug.Back ||
			strings.Join(after.Owned, ",") != strings.Join(before.Owned, ",") {
			t.Errorf("update to %s: host before %+v, after %+v", c.what, before, after)
		}
	}
	r.checkOnly("after the failed plans", l.all, l.br1)
	// The VM still moves.
	r.plug("move to direct after the failures", tapDirectXML(l.direct.Parent), l.direct.Subnet)
	r.checkTap(l, directTo(l.direct.Parent))
}
