package e2e_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/qmp"
)

// carrierHold keeps the link down during a switch long enough for the
// guest, which polls carrier every 10 ms, to see it drop and re-run DHCP on
// the new network.
const carrierHold = 300 * time.Millisecond

var (
	none     = domain.Backend{Type: domain.TypeNone}
	user     = domain.Backend{Type: domain.TypeUser}
	userXML  = iface("user", "")
	noneXML  = iface("none", "")
	downXML  = iface("user", "\n  <link state='down'/>")
	directTo = func(parent string) domain.Backend {
		return domain.Backend{Type: domain.TypeDirect, Dev: parent, Mode: "bridge"}
	}
)

// TestIntegrationUser boots a guest whose NIC is unplugged, plugs it into
// user networking, unplugs it and plugs it again, all without root.
func TestIntegrationUser(t *testing.T) {
	r := boot(t, noneXML, nil)
	id := r.nicIdentity()

	// Boot unplugged: the guest sees carrier 0 and never gets a lease.
	if _, err := r.g.WaitEvent(r.ctx(), 0, guest.Match(guest.KindCarrier, "0")); err != nil {
		t.Fatal(err)
	}
	r.quiet(r.g.Seq(), 2*time.Second)
	r.checkOffline()
	r.checkWiring(none, "")

	for i := range 2 {
		c := r.plug("plug user", userXML, userNet)
		if want, got := "10.0.2.15/24", c.Addr.String(); got != want {
			t.Errorf("lease %s, want %s", got, want)
		}
		if want, got := "10.0.2.2", c.Router.String(); got != want {
			t.Errorf("router %s, want %s", got, want)
		}
		r.checkWiring(user, "user")

		r.unplug("unplug", noneXML)
		if r.ping("10.0.2.2") {
			t.Errorf("cycle %d: guest pings 10.0.2.2 while unplugged", i)
		}
		r.checkWiring(none, "")
	}
	r.checkSameNIC(t, id)
}

// TestIntegrationBootUser boots a guest plugged into user networking (the
// start plan attaches it before the guest runs) and takes its link down and
// up again with <link state>.
func TestIntegrationBootUser(t *testing.T) {
	r := boot(t, userXML, nil)
	c, err := labWaitBoot(r)
	if err != nil {
		t.Fatal(err)
	}
	if want, got := "10.0.2.15/24", c; got != want {
		t.Errorf("boot lease %s, want %s", got, want)
	}
	// The guest never saw carrier 0 during boot: the link was up from the
	// first look.
	for _, ev := range r.g.Events() {
		if ev.Kind == guest.KindCarrier && ev.Arg(0) == "0" {
			t.Errorf("guest saw %q while booting plugged", ev.Raw)
		}
	}
	r.checkWiring(user, "user")

	r.unplug("link down", downXML)
	if got := r.iface0(); got.LinkUp || got.Driver != "user" {
		t.Errorf("after link down: %+v, want the user backend attached with link down", got)
	}
	r.plug("link up", userXML, userNet)
	r.checkWiring(user, "user")
}

// labWaitBoot waits for the guest's boot-time connection and returns its
// lease.
func labWaitBoot(r *rig) (string, error) {
	c, err := waitConnected(r, 0, userNet)
	if err != nil {
		return "", err
	}
	return c.Addr.String(), nil
}

// TestIntegrationDirect plugs a guest into a macvtap on a LAN with its own
// DHCP server, switches it live between that LAN and user networking both
// ways, checks the kernel's own IPv6 autoconfiguration across a move
// (kernelSLAAC), checks that a plan that fails leaves it working, and
// unplugs it.
func TestIntegrationDirect(t *testing.T) {
	n := network(t)
	r := boot(t, noneXML, &nicplug.Config{Netns: n.Netns, CarrierHold: carrierHold})
	id := r.nicIdentity()
	directXML, lan := direct(n.Parent), directTo(n.Parent)
	router := n.Router.String()

	t.Run("plug", func(t *testing.T) {
		r.t = t
		c := r.plug("plug direct", directXML, n.Subnet)
		if want, got := router, c.Router.String(); got != want {
			t.Errorf("router %s, want %s", got, want)
		}
		r.checkWiring(lan, "tap")
		if got := macvtaps(t, n); len(got) != 1 {
			t.Errorf("macvtaps in the netns: %q, want one", got)
		}
	})
	t.Run("direct-to-user", func(t *testing.T) {
		r.t = t
		r.ensure(directXML, lan, n.Subnet)
		c := r.plug("switch direct→user", userXML, userNet)
		if c.Down == nil {
			t.Errorf("guest never saw carrier 0 during the switch")
		}
		r.checkWiring(user, "user")
		if got := macvtaps(t, n); len(got) != 0 {
			t.Errorf("macvtaps left in the netns after leaving direct: %q", got)
		}
	})
	t.Run("user-to-direct", func(t *testing.T) {
		r.t = t
		r.ensure(userXML, user, userNet)
		c := r.plug("switch user→direct", directXML, n.Subnet)
		if c.Down == nil {
			t.Errorf("guest never saw carrier 0 during the switch")
		}
		r.checkWiring(lan, "tap")
	})
	t.Run("kernel-slaac", func(t *testing.T) {
		r.t = t
		r.kernelSLAAC(n, directXML, lan)
	})
	t.Run("failed-plan", func(t *testing.T) {
		r.t = t
		r.ensure(directXML, lan, n.Subnet)
		before := macvtaps(t, n)
		from := r.g.Seq()
		err := r.vm.UpdateDevice(r.ctx(), direct("nplab-nonexist"))
		var se *nicplug.StepError
		if !errors.As(err, &se) {
			t.Fatalf("UpdateDevice to a missing parent: %v, want a *nicplug.StepError", err)
		}
		t.Logf("failed plan: %v", err)
		if se.Name == "" || !strings.Contains(err.Error(), "step ") {
			t.Errorf("error %q names no step", err)
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error %q does not match os.ErrNotExist (missing parent)", err)
		}
		if se.UndoErr != nil {
			t.Errorf("rollback failed: %v", se.UndoErr)
		}
		if !r.ping(router) {
			t.Errorf("guest lost its LAN after the failed plan")
		}
		if out, _ := r.exec("cat /sys/class/net/eth0/carrier"); out != "1" {
			t.Errorf("guest's carrier = %q after the failed plan, want 1", out)
		}
		for _, ev := range r.g.Events()[from:] {
			if ev.Kind == guest.KindCarrier || ev.Kind == guest.KindDeconfig {
				t.Errorf("guest saw %q during the failed plan", ev.Raw)
			}
		}
		r.checkWiring(lan, "tap")
		if after := macvtaps(t, n); !slices.Equal(before, after) {
			t.Errorf("macvtaps in the netns: before %q, after the failed plan %q", before, after)
		}
		// A plan that fails in QEMU: a listening socket backend on a port
		// that is taken.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		from = r.g.Seq()
		err = r.vm.UpdateDevice(r.ctx(), iface("server", fmt.Sprintf("\n  <source address='127.0.0.1' port='%d'/>", port)))
		var ce *qmp.CommandError
		if !errors.As(err, &se) || !errors.As(err, &ce) {
			t.Fatalf("UpdateDevice to a taken port: %v, want a *nicplug.StepError wrapping a *qmp.CommandError", err)
		}
		t.Logf("failed plan: %v", err)
		if se.UndoErr != nil {
			t.Errorf("rollback failed: %v", se.UndoErr)
		}
		if !r.ping(router) {
			t.Errorf("guest lost its LAN after the failed plan")
		}
		if len(r.g.Events()) != from {
			t.Errorf("guest reported %q during the failed plan", r.g.Events()[from:])
		}
		r.checkWiring(lan, "tap")
		if after := macvtaps(t, n); !slices.Equal(before, after) {
			t.Errorf("macvtaps in the netns: before %q, after the failed plan %q", before, after)
		}

		// The VM still takes updates after the failures.
		r.plug("switch direct→user after failure", userXML, userNet)
		r.plug("switch user→direct after failure", directXML, n.Subnet)
	})
	t.Run("unplug", func(t *testing.T) {
		r.t = t
		r.unplug("unplug direct", noneXML)
		r.checkWiring(none, "")
		if r.ping(router) {
			t.Errorf("guest pings %s while unplugged", router)
		}
		if got := macvtaps(t, n); len(got) != 0 {
			t.Errorf("macvtaps left in the netns after unplug: %q", got)
		}
	})
	r.t = t
	r.checkSameNIC(t, id)
}

// TestIntegrationBootDirect boots a guest whose NIC starts on a macvtap: the
// start plan creates and attaches it before the guest runs.
func TestIntegrationBootDirect(t *testing.T) {
	n := network(t)
	r := boot(t, direct(n.Parent), &nicplug.Config{Netns: n.Netns})
	if _, err := waitConnected(r, 0, n.Subnet); err != nil {
		t.Fatal(err)
	}
	if !r.ping(n.Router.String()) {
		t.Errorf("guest's explicit ping of %s failed", n.Router)
	}
	r.checkWiring(directTo(n.Parent), "tap")
	r.unplug("unplug direct", noneXML)
	if got := macvtaps(t, n); len(got) != 0 {
		t.Errorf("macvtaps left in the netns after unplug: %q", got)
	}
}

// TestIntegrationRestartedManager boots a guest on a macvtap, lets the
// managing process go away (its VM closed, QEMU and the macvtap left
// running), and moves the guest from a new process that has no domain XML
// (nicplug.AttachRunning): the macvtap's spec is recovered from the host,
// the guest is moved to user networking and back, and no macvtap is left
// over.
func TestIntegrationRestartedManager(t *testing.T) {
	n := network(t)
	cfg := &nicplug.Config{Netns: n.Netns, CarrierHold: carrierHold}
	lan := directTo(n.Parent)
	r := boot(t, direct(n.Parent), cfg)
	if _, err := waitConnected(r, 0, n.Subnet); err != nil {
		t.Fatal(err)
	}
	id, name := r.nicIdentity(), r.vm.Name()
	if err := r.vm.Close(); err != nil {
		t.Fatal(err)
	}

	vm, err := nicplug.AttachRunning(r.ctx(), r.g.QMPSocket(), name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Close() })
	r.vm = vm
	if got := r.iface0(); got.Backend != lan || !got.LinkUnknown || got.Driver != "tap" {
		t.Errorf("after AttachRunning: %+v, want backend %v recovered, link unknown", got, lan)
	}
	c := r.plug("restarted: switch direct→user", userXML, userNet)
	if c.Down == nil {
		t.Errorf("guest never saw carrier 0 during the switch")
	}
	r.checkWiring(user, "user")
	if got := macvtaps(t, n); len(got) != 0 {
		t.Errorf("macvtaps left in the netns after leaving direct: %q", got)
	}
	r.plug("restarted: switch user→direct", direct(n.Parent), n.Subnet)
	r.checkWiring(lan, "tap")
	r.checkSameNIC(t, id)
}
