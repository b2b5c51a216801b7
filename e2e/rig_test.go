package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/lab"
	"github.com/nicplug/nicplug/internal/testenv"
)

// guestMAC is the MAC of every test guest's NIC.
const guestMAC = "52:54:00:0f:7d:ad"

// wait bounds every wait for the guest: generous, TCG on a loaded
// machine; stretched by NICPLUG_TIME_SCALE (testenv.Scale) for a guest
// under nested TCG (internal/kernelvm).
var wait = testenv.Scale(60 * time.Second)

// userNet is the network QEMU's user mode (slirp) serves.
var userNet = netip.MustParsePrefix("10.0.2.0/24")

// iface returns an <interface> element of the test NIC: typ, plus inner
// elements such as a <source/>.
func iface(typ, inner string) []byte {
	return fmt.Appendf(nil, `<interface type='%s'>
  <mac address='%s'/>
  <model type='virtio'/>%s
</interface>`, typ, guestMAC, inner)
}

// direct returns a type='direct' interface on parent, bridge mode.
func direct(parent string) []byte {
	return iface("direct", fmt.Sprintf("\n  <source dev='%s' mode='bridge'/>", parent))
}

// domainXML returns a domain named name whose only NIC is nic.
func domainXML(name string, nic []byte) []byte {
	return fmt.Appendf(nil, "<domain type='qemu'>\n<name>%s</name>\n<devices>\n%s\n</devices>\n</domain>\n", name, nic)
}

// rig is a booted guest and the nicplug VM that manages its NIC.
type rig struct {
	t  *testing.T
	g  *guest.Guest
	vm *nicplug.VM
}

// boot boots a guest paused with the QEMU arguments of the domain made of
// nic (plus extra QEMU arguments), attaches nicplug with cfg, starts it and
// waits for the guest's ready event. Everything is closed in t.Cleanup.
func boot(t *testing.T, nic []byte, cfg *nicplug.Config, extra ...string) *rig {
	t.Helper()
	return bootStack(t, "", nic, cfg, extra...)
}

// bootStack is boot for a guest whose network stack is stack: "" for the
// busybox guest, else a distribution guest (guest.StartDistro).
func bootStack(t *testing.T, stack guest.Stack, nic []byte, cfg *nicplug.Config, extra ...string) *rig {
	t.Helper()
	return bootWith(t, bootOpts{stack: stack, nic: nic, cfg: cfg, extra: extra})
}

// bootOpts are bootWith's options; the zero value of each field is boot's
// behaviour.
type bootOpts struct {
	stack guest.Stack
	nic   []byte
	cfg   *nicplug.Config
	extra []string
	// tapNetns is where the fixed tap of a tap-datapath NIC is created
	// (nicplug.PrepareTaps), the Config.Netns of cfg; required for one.
	tapNetns string
	// tapByName passes the taps to QEMU by name (Taps.Args), given to
	// tapUser; else QEMU inherits their queues as fds 3, 4, … (Taps.Files).
	tapByName bool
	tapUser   *nicplug.TapUser
	// cpus is the guest's vCPU count (0: QEMU's default).
	cpus int
	// runAs runs QEMU as that user (see guest.Config.RunAs).
	runAs *guest.RunAs
	// qemu is the binary (or wrapper) to run, "" for the tests' QEMU.
	qemu string
}

// bootWith is boot with options: tap-datapath NICs, vCPUs, QEMU's user.
func bootWith(t *testing.T, o bootOpts) *rig {
	t.Helper()
	stack, nic, cfg, extra := o.stack, o.nic, o.cfg, o.extra
	xml := domainXML("e2e-"+strings.ReplaceAll(t.Name(), "/", "-"), nic)
	d, err := domain.ParseDomain(xml, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tapArgs map[string]domain.TapArgs
	var files []*os.File
	if hasTapNIC(d) {
		tapArgs, files = prepareTaps(t, d, o)
		defer func() {
			for _, f := range files {
				f.Close()
			}
		}()
	}
	args := testenv.QEMUArgsTaps(t, d, tapArgs)
	// Start builds the assets once per test binary (or skips), and logs
	// the guest's console when the test fails.
	gc := &guest.Config{ExtraArgs: append(args, extra...), Paused: true,
		ExtraFiles: files, CPUs: o.cpus, RunAs: o.runAs, QEMU: o.qemu}
	var g *guest.Guest
	if stack == "" {
		g = guest.Start(t, gc)
	} else {
		g = guest.StartDistro(t, stack, gc)
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	vm, err := nicplug.Attach(ctx, g.QMPSocket(), xml, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := vm.Close(); err != nil {
			t.Errorf("close vm: %v", err)
		}
	})
	r := &rig{t: t, g: g, vm: vm}
	started := time.Now()
	if err := vm.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	readyCtx := ctx
	if stack != "" {
		// A distribution guest boots systemd and its stack: ~15–50 s
		// under TCG on a shared machine.
		var cancel context.CancelFunc
		readyCtx, cancel = context.WithTimeout(t.Context(), testenv.Scale(4*time.Minute))
		defer cancel()
	}
	ev, err := g.WaitEvent(readyCtx, 0, guest.Match(guest.KindReady))
	if err != nil {
		t.Fatalf("waiting for the guest: %v", err)
	}
	if want, got := guestMAC, ev.Fields["mac"]; got != want {
		t.Fatalf("guest's eth0 has MAC %s, want %s", got, want)
	}
	t.Logf("guest ready %v after Start (guest uptime %ss)", time.Since(started).Round(time.Millisecond), ev.Fields["up"])
	return r
}

// prepareTaps creates the fixed taps of d's tap-datapath NICs in
// o.tapNetns, deleted when the test ends (after QEMU: cleanups run in
// reverse), and returns them for QEMUArgsFor and, unless o.tapByName, the
// queue files QEMU inherits (the caller closes them once QEMU started).
func prepareTaps(t *testing.T, d *domain.Domain, o bootOpts) (map[string]domain.TapArgs, []*os.File) {
	t.Helper()
	if o.tapNetns == "" {
		t.Fatal("test: a tap-datapath NIC needs bootOpts.tapNetns")
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	taps, err := nicplug.PrepareTaps(ctx, d, &nicplug.TapOptions{Netns: o.tapNetns, User: o.tapUser})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := taps.Delete(context.Background()); err != nil {
			t.Errorf("delete taps: %v", err)
		}
	})
	if o.tapByName {
		return taps.Args(), nil
	}
	args, files, err := taps.Files(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	return args, files
}

func hasTapNIC(d *domain.Domain) bool {
	for _, n := range d.NICs {
		if n.Datapath() == domain.DatapathTap {
			return true
		}
	}
	return false
}

// ctx returns a context bounded by wait.
func (r *rig) ctx() context.Context {
	ctx, cancel := context.WithTimeout(r.t.Context(), wait)
	r.t.Cleanup(cancel)
	return ctx
}

// exec runs cmd in the guest.
func (r *rig) exec(cmd string) (string, int) {
	r.t.Helper()
	out, code, err := r.g.Exec(r.ctx(), cmd)
	if err != nil {
		r.t.Fatalf("guest exec %q: %v", cmd, err)
	}
	return strings.TrimSpace(out), code
}

// ping pings addr once from the guest and reports whether it answered.
func (r *rig) ping(addr string) bool {
	r.t.Helper()
	_, code := r.exec("ping -c 1 -W 2 " + addr)
	return code == 0
}

// nicIdentity is what must not change while the NIC is plugged, unplugged
// and switched: the guest keeps the same device.
func (r *rig) nicIdentity() string {
	r.t.Helper()
	out, code := r.exec("cat /sys/class/net/eth0/ifindex /sys/class/net/eth0/address")
	if code != 0 {
		r.t.Fatalf("guest has no eth0: %s", out)
	}
	return strings.Join(strings.Fields(out), " ")
}

// checkSameNIC checks that the guest still has the NIC it had when
// nicIdentity returned id, never re-probed.
func (r *rig) checkSameNIC(t *testing.T, id string) {
	t.Helper()
	if got := r.nicIdentity(); got != id {
		t.Errorf("guest's eth0 (ifindex, MAC) changed from %q to %q", id, got)
	}
	if n := r.readyCount(); n != 1 {
		t.Errorf("guest reported ready %d times, want 1 (NIC re-probed)", n)
	}
}

// readyCount counts the guest's ready events: a second one would mean the
// NIC disappeared and came back.
func (r *rig) readyCount() int {
	n := 0
	for _, ev := range r.g.Events() {
		if ev.Kind == guest.KindReady {
			n++
		}
	}
	return n
}

// update applies an <interface> update and returns when it started and
// how long UpdateDevice took.
func (r *rig) update(x []byte) (time.Time, time.Duration) {
	r.t.Helper()
	t0 := time.Now()
	if err := r.vm.UpdateDevice(r.ctx(), x); err != nil {
		r.t.Fatalf("UpdateDevice:\n%s\n: %v", x, err)
	}
	return t0, time.Since(t0)
}

// plug applies an update that must connect the guest to subnet, checks the
// guest's events and an explicit ping of the router, and logs latencies.
func (r *rig) plug(what string, x []byte, subnet netip.Prefix) *lab.Connected {
	r.t.Helper()
	from := r.g.Seq()
	t0, apply := r.update(x)
	c, err := lab.WaitConnected(r.ctx(), r.g, from, subnet)
	if err != nil {
		r.t.Fatalf("%s: %v", what, err)
	}
	if !r.ping(c.Router.String()) {
		r.t.Fatalf("%s: guest's explicit ping of %s failed", what, c.Router)
	}
	// Only the new lease's address is left: the old network's is gone.
	out, _ := r.exec("ip -4 -o addr show dev eth0")
	var addrs []string
	for f := range strings.FieldsSeq(out) {
		if _, err := netip.ParsePrefix(f); err == nil {
			addrs = append(addrs, f)
		}
	}
	if want := []string{c.Addr.String()}; !slices.Equal(addrs, want) {
		r.t.Errorf("%s: guest's eth0 has addresses %q, want %q", what, addrs, want)
	}
	down := ""
	if c.Down != nil {
		down = fmt.Sprintf("carrier 0 +%v, ", ms(c.Down.Time.Sub(t0)))
	}
	r.t.Logf("%s: apply %v; from apply start: %scarrier 1 +%v, lease %s +%v, ping %s ok +%v",
		what, ms(apply), down, ms(c.Carrier.Time.Sub(t0)), c.Addr, ms(c.Lease.Time.Sub(t0)), c.Router, ms(c.Ping.Time.Sub(t0)))
	return c
}

// unplug applies an update that must disconnect the guest.
func (r *rig) unplug(what string, x []byte) {
	r.t.Helper()
	from := r.g.Seq()
	t0, apply := r.update(x)
	d, err := lab.WaitDisconnected(r.ctx(), r.g, from)
	if err != nil {
		r.t.Fatalf("%s: %v", what, err)
	}
	r.t.Logf("%s: apply %v; from apply start: carrier 0 +%v, deconfig +%v",
		what, ms(apply), ms(d.Carrier.Time.Sub(t0)), ms(d.Deconfig.Time.Sub(t0)))
	r.checkOffline()
}

// checkOffline checks that the guest has no carrier and no IPv4 address.
func (r *rig) checkOffline() {
	r.t.Helper()
	if out, _ := r.exec("cat /sys/class/net/eth0/carrier"); out != "0" {
		r.t.Errorf("guest's eth0 carrier = %q, want 0", out)
	}
	if out, _ := r.exec("ip -4 -o addr show dev eth0"); out != "" {
		r.t.Errorf("guest's eth0 still has an address: %s", out)
	}
}

// iface0 returns the live wiring of the NIC.
func (r *rig) iface0() nicplug.Interface {
	r.t.Helper()
	ifs, err := r.vm.Interfaces(r.ctx())
	if err != nil {
		r.t.Fatalf("Interfaces: %v", err)
	}
	if len(ifs) != 1 {
		r.t.Fatalf("Interfaces = %+v, want one NIC", ifs)
	}
	return ifs[0]
}

// checkWiring checks the NIC's live wiring as nicplug reads it back.
func (r *rig) checkWiring(want domain.Backend, driver string) {
	r.t.Helper()
	got := r.iface0()
	if got.Backend != want || got.Driver != driver || got.LinkUp != !want.IsNone() || got.MAC != guestMAC ||
		(got.BackendID == "") != want.IsNone() {
		r.t.Errorf("Interfaces()[0] = %+v, want backend %v, driver %q, link up %v, MAC %s",
			got, want, driver, !want.IsNone(), guestMAC)
	}
}

// quiet checks that the guest reports nothing for d after event from.
func (r *rig) quiet(from int, d time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), d)
	defer cancel()
	ev, err := r.g.WaitEvent(ctx, from, func(ev guest.Event) bool { return ev.Kind != guest.KindLeaseFail })
	if err == nil {
		r.t.Errorf("guest reported %q, want nothing", ev.Raw)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		r.t.Fatal(err)
	}
}

// ms rounds d for logs.
func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

// network creates a lab network for t (root), removed in t.Cleanup, which
// also checks that no macvtap is left in it.
func network(t *testing.T) *lab.Network {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range []string{"ip", "busybox", "radvd"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Skip(t, tool+" not found")
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	n, err := lab.NewNetwork(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("udhcpd:\n%s", n.Log())
		}
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// macvtaps returns the macvtaps in n's namespace.
func macvtaps(t *testing.T, n *lab.Network) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	names, err := n.Macvtaps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// waitConnected is lab.WaitConnected with the rig's timeout.
func waitConnected(r *rig, from int, subnet netip.Prefix) (*lab.Connected, error) {
	return lab.WaitConnected(r.ctx(), r.g, from, subnet)
}

// ensure plugs the NIC into want (x, serving subnet) unless it already is:
// a subtest run alone (-run) starts from the state it needs.
func (r *rig) ensure(x []byte, want domain.Backend, subnet netip.Prefix) {
	r.t.Helper()
	if got := r.iface0(); got.Backend != want || !got.LinkUp {
		r.plug("setup: plug "+want.String(), x, subnet)
	}
}
