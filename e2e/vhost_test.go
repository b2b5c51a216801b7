package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

// vhostQueues is the queue pairs of the vhost test NIC.
const vhostQueues = 2

// vhostNIC returns the test NIC of type typ on the tap datapath with
// vhost-net: <driver name='vhost' queues='2'/>.
func vhostNIC(typ, inner string) []byte {
	return iface(typ, fmt.Sprintf("%s\n  <driver name='vhost' queues='%d'/>", inner, vhostQueues))
}

// vhostInitFailed is what QEMU prints when it cannot set vhost-net up for
// a netdev that asks for it (and falls back to its own datapath).
const vhostInitFailed = "vhost-net requested but could not be initialized"

// TestIntegrationTapVhost boots a tap-datapath NIC that asks for
// vhost-net (<driver name='vhost' queues='2'/>, two vCPUs) unplugged and
// moves it live through plans: into a bridge, to a direct (macvlan)
// backend, to another bridge, unplugged. QEMU must keep vhost-net all the
// way (checkVhost), with QEMU running as nobody, without capabilities,
// given the tap's queues and the vhost-net fds by nicplug.Taps.Files
// (vhostfds=, so QEMU opens no device itself): one fd of /dev/vhost-net and one kernel worker
// thread vhost-<QEMU's pid> per queue pair, and no "vhost-net requested
// but could not be initialized" from QEMU; x-query-virtio-status (on a
// second QMP monitor) reports vhost started with a vhost device while
// the NIC's link is up, and stopped while it is down (QEMU's virtio-net
// runs vhost-net only with VIRTIO_NET_S_LINK_UP: set_link false stops
// it, true starts it again). After each move the guest has a lease on
// the new LAN and pings its router through vhost-net, and no other
// LAN's router answers it.
//
// Where /dev/vhost-net is missing (this machine's and CI's kernel) the
// test checks that PrepareTaps refuses the NIC and logs NOT TESTED HERE;
// under NICPLUG_VHOST_NET (testenv.VhostNetVar, set by internal/kernelvm,
// which runs it in a guest with Debian's kernel) that is a failure.
func TestIntegrationTapVhost(t *testing.T) {
	if _, err := os.Stat(nicplug.VhostNetDevice); err != nil {
		if testenv.WantVhostNet() {
			t.Fatalf("%s is set but %s is missing: %v", testenv.VhostNetVar, nicplug.VhostNetDevice, err)
		}
		checkVhostRefused(t)
		t.Logf("NOT TESTED HERE: a vhost-net NIC moved live (%v); internal/kernelvm runs this test in a guest with Debian's kernel", err)
		return
	}
	l := newTapLANs(t)
	testenv.RequireQEMUAs(t, nobody, nobody)
	// The second monitor's socket sits in a directory of its own that
	// nobody can enter (t.TempDir's parent is 0700): QEMU unlinks and
	// creates it as nobody.
	auxDir, err := os.MkdirTemp("", "nicplug-vhost-aux-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(auxDir) })
	if err := os.Chown(auxDir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	aux := filepath.Join(auxDir, "aux.sock")
	r := bootWith(t, bootOpts{nic: vhostNIC("none", ""), cfg: &nicplug.Config{Netns: l.host, CarrierHold: carrierHold},
		tapNetns: l.host, cpus: vhostQueues, extra: []string{"-qmp", "unix:" + aux + ",server=on,wait=off"},
		runAs: &guest.RunAs{UID: nobody, GID: nobody}})
	// Unprivileged, with no access to /dev/vhost-net needed: QEMU got
	// the tap's queues and one vhost-net fd per queue pair from
	// Taps.Files (vhostfds=).
	testenv.CheckRunsAs(t, r.g.Pid(), nobody, nobody, true)
	c := dialAux(t, aux)
	id := r.nicIdentity()
	if _, err := r.g.WaitEvent(r.ctx(), 0, guest.Match(guest.KindCarrier, "0")); err != nil {
		t.Fatal(err)
	}
	r.checkOffline()
	r.checkTap(l, domain.Backend{Type: domain.TypeNone})
	if rx, tx := r.queueCounts(); rx != vhostQueues || tx != vhostQueues {
		t.Errorf("guest's eth0 has %d rx and %d tx queues, want %d and %d", rx, tx, vhostQueues, vhostQueues)
	}
	r.checkVhost("booted unplugged", c, false)

	for _, step := range []struct {
		what string
		xml  []byte
		want domain.Backend
		lan  int // index in l.all
	}{
		{"plug bridge " + l.br1.Bridge, vhostNIC("bridge", "\n  <source bridge='"+l.br1.Bridge+"'/>"), bridgeTo(l.br1.Bridge), 1},
		{"move bridge→direct " + l.direct.Parent, vhostNIC("direct", "\n  <source dev='"+l.direct.Parent+"' mode='bridge'/>"), directTo(l.direct.Parent), 0},
		{"move direct→bridge " + l.br2.Bridge, vhostNIC("bridge", "\n  <source bridge='"+l.br2.Bridge+"'/>"), bridgeTo(l.br2.Bridge), 2},
	} {
		n := l.all[step.lan]
		p, err := r.vm.PlanUpdate(r.ctx(), step.xml)
		if err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		for _, s := range p.Steps {
			if s.Do.Type == nicplug.ActionQMP && strings.HasPrefix(s.Do.Command, "netdev_") {
				t.Errorf("%s: the plan changes a QEMU netdev (%s): the vhost tap must stay", step.what, s.Do)
			}
		}
		if c := r.plug(step.what, step.xml, n.Subnet); c.Router != n.Router {
			t.Errorf("%s: router %s, want %s", step.what, c.Router, n.Router)
		}
		r.checkTap(l, step.want)
		r.checkOnly(step.what, l.all, n)
		r.checkVhost(step.what, c, true)
	}
	r.unplug("unplug", vhostNIC("none", ""))
	r.checkTap(l, domain.Backend{Type: domain.TypeNone})
	r.checkOnly("unplugged", l.all, nil)
	r.checkVhost("unplugged", c, false)
	r.checkSameNIC(t, id)
}

// checkVhostRefused checks that PrepareTaps refuses a vhost NIC where
// /dev/vhost-net is missing, naming it, and creates nothing.
func checkVhostRefused(t *testing.T) {
	t.Helper()
	d, err := domain.ParseDomain(domainXML("e2e-vhost-refused", vhostNIC("none", "")), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	taps, err := nicplug.PrepareTaps(ctx, d, nil)
	if err == nil {
		taps.Delete(context.WithoutCancel(ctx))
		t.Fatalf("PrepareTaps of a vhost NIC without %s succeeded", nicplug.VhostNetDevice)
	}
	if !errors.Is(err, nicplug.ErrBadInput) || !strings.Contains(err.Error(), "asks for vhost-net") || !strings.Contains(err.Error(), nicplug.VhostNetDevice) {
		t.Errorf("PrepareTaps = %v, want an ErrBadInput naming vhost-net and %s", err, nicplug.VhostNetDevice)
	}
	if _, err := os.Stat("/sys/class/net/" + backend.TapName("e2e-vhost-refused", "net0")); !os.IsNotExist(err) {
		t.Errorf("the refused NIC's tap exists: %v", err)
	}
}

// dialAux connects to QEMU's second QMP monitor (nicplug holds the
// first), closed when the test ends.
func dialAux(t *testing.T, sock string) *qmp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	c, err := qmp.Dial(ctx, sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// vhostUse is what shows that QEMU runs a NIC's datapath in vhost-net.
type vhostUse struct {
	FDs     int  // QEMU's fds of /dev/vhost-net
	Workers int  // kernel worker threads named vhost-<QEMU's pid>
	Started bool // x-query-virtio-status: vhost-started
	Dev     bool // x-query-virtio-status: a vhost-dev is reported
}

// checkVhost checks that QEMU has vhost-net for net0, one vhost device
// per queue pair, started when the NIC's link is up and stopped when it
// is down, and logs the evidence.
func (r *rig) checkVhost(what string, c *qmp.Client, up bool) {
	r.t.Helper()
	u := r.vhostUse(c)
	r.t.Logf("%s: vhost-net: %d fds of %s, %d vhost-%d workers, vhost-started %v, vhost-dev %v",
		what, u.FDs, nicplug.VhostNetDevice, u.Workers, r.g.Pid(), u.Started, u.Dev)
	if want := (vhostUse{FDs: vhostQueues, Workers: vhostQueues, Started: up, Dev: up}); u != want {
		r.t.Errorf("%s: QEMU's vhost-net use %+v, want %+v", what, u, want)
	}
	if s := r.g.Stderr(); strings.Contains(s, vhostInitFailed) {
		r.t.Errorf("%s: QEMU printed %q:\n%s", what, vhostInitFailed, s)
	}
}

// vhostUse reads QEMU's vhost-net use from /proc and from c, QEMU's
// second QMP monitor.
func (r *rig) vhostUse(c *qmp.Client) vhostUse {
	r.t.Helper()
	var u vhostUse
	dev, err := os.Stat(nicplug.VhostNetDevice)
	if err != nil {
		r.t.Fatal(err)
	}
	rdev := dev.Sys().(*syscall.Stat_t).Rdev
	pid := strconv.Itoa(r.g.Pid())
	fds, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range fds {
		fi, err := os.Stat("/proc/" + pid + "/fd/" + e.Name())
		if err == nil && fi.Mode()&os.ModeCharDevice != 0 && fi.Sys().(*syscall.Stat_t).Rdev == rdev {
			u.FDs++
		}
	}
	// A kthread before Linux 6.4, a thread of QEMU's own since: either
	// way a task named vhost-<pid>.
	comms, err := filepath.Glob("/proc/[0-9]*/task/[0-9]*/comm")
	if err != nil {
		r.t.Fatal(err)
	}
	for _, p := range comms {
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == "vhost-"+pid {
			u.Workers++
		}
	}
	raw, err := c.Execute(r.ctx(), "x-query-virtio-status", map[string]string{"path": "/machine/peripheral/net0/virtio-backend"})
	if err != nil {
		r.t.Fatalf("x-query-virtio-status: %v", err)
	}
	var st struct {
		Started bool            `json:"vhost-started"`
		Dev     json.RawMessage `json:"vhost-dev"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		r.t.Fatalf("x-query-virtio-status: %v: %s", err, raw)
	}
	u.Started, u.Dev = st.Started, len(st.Dev) > 0 && string(st.Dev) != "null"
	return u
}
