package nicplug_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

// testNetns is a fresh network namespace with a veth pair (veth0 is the
// macvtap parent), a bridge br0 and a tap tap7, deleted in t.Cleanup.
type testNetns struct {
	name, path string
}

func newTestNetns(t testing.TB) *testNetns {
	t.Helper()
	return newTestNetnsNamed(t, "npcore-")
}

// newTestNetnsNamed is newTestNetns with the name prefix prefix.
func newTestNetnsNamed(t testing.TB, prefix string) *testNetns {
	t.Helper()
	testenv.RequireRoot(t)
	var b [4]byte
	rand.Read(b[:])
	n := &testNetns{name: prefix + hex.EncodeToString(b[:])}
	n.path = "/run/netns/" + n.name
	run(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "veth0", "type", "veth", "peer", "name", "veth1"},
		{"link", "set", "veth0", "up"},
		{"link", "set", "veth1", "up"},
		{"link", "add", "veth2", "type", "veth", "peer", "name", "veth3"},
		{"link", "set", "veth2", "up"},
		{"link", "set", "veth3", "up"},
		{"link", "add", "br0", "type", "bridge"},
		{"link", "set", "br0", "up"},
		{"link", "add", "br1", "type", "bridge"},
		{"link", "set", "br1", "up"},
		{"tuntap", "add", "dev", "tap7", "mode", "tap"},
		{"link", "set", "tap7", "up"},
	} {
		run(t, "ip", append([]string{"-n", n.name}, args...)...)
	}
	return n
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// rig is one QEMU with a VM attached through fault-injecting wrappers.
type rig struct {
	t    testing.TB
	q    *testenv.QEMU
	mon  *qmp.Client
	in   *injector
	vm   *nicplug.VM
	host backend.Host // unwrapped
	ns   *testNetns
	name string
}

func domainXML(name string, ifaces ...string) []byte {
	return []byte(fmt.Sprintf(`<domain type='qemu'><name>%s</name><devices>%s</devices></domain>`,
		name, strings.Join(ifaces, "")))
}

// iface is an <interface> of type typ ("none", "user", …) with inner XML.
func iface(mac, typ, inner string) string {
	return fmt.Sprintf(`<interface type='%s'><mac address='%s'/><model type='virtio'/>%s</interface>`, typ, mac, inner)
}

func newRig(t testing.TB, ns *testNetns, cfg *nicplug.Config, name string, ifaces ...string) *rig {
	t.Helper()
	return newRigXML(t, ns, cfg, name, domainXML(name, ifaces...))
}

// startDomain starts a guest-less QEMU with the NIC arguments of the
// domain xml, plus extra arguments.
func startDomain(t testing.TB, xml []byte, extra ...string) (*testenv.QEMU, *domain.Domain) {
	t.Helper()
	return startDomainNS(t, nil, xml, extra...)
}

// startDomainNS is startDomain with the fixed taps of tap-datapath NICs
// created in ns (nicplug.PrepareTaps) and passed to QEMU as inherited
// queue fds; they are deleted when the test ends.
func startDomainNS(t testing.TB, ns *testNetns, xml []byte, extra ...string) (*testenv.QEMU, *domain.Domain) {
	t.Helper()
	dom, err := domain.ParseDomain(xml, nil)
	if err != nil {
		t.Fatal(err)
	}
	var files []*os.File
	var tapArgs map[string]domain.TapArgs
	if hasTapNIC(dom) {
		if ns == nil {
			t.Fatal("test: a tap-datapath NIC needs a test netns")
		}
		ctx := ctxT(t)
		taps, err := nicplug.PrepareTaps(ctx, dom, &nicplug.TapOptions{Netns: ns.path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := taps.Delete(context.Background()); err != nil {
				t.Errorf("delete taps: %v", err)
			}
		})
		if tapArgs, files, err = taps.Files(ctx, 3); err != nil {
			t.Fatal(err)
		}
		defer func() {
			for _, f := range files {
				f.Close()
			}
		}()
	}
	args := testenv.QEMUArgsTaps(t, dom, tapArgs)
	return testenv.StartQEMUFiles(t, files, append(args, extra...)...), dom
}

func hasTapNIC(dom *domain.Domain) bool {
	for _, n := range dom.NICs {
		if n.Datapath() == domain.DatapathTap {
			return true
		}
	}
	return false
}

// newRigXML is newRig for a whole domain document named name.
func newRigXML(t testing.TB, ns *testNetns, cfg *nicplug.Config, name string, xml []byte) *rig {
	t.Helper()
	q, dom := startDomainNS(t, ns, xml, "-name", "guest="+name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mon, err := qmp.Dial(ctx, q.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	r := &rig{t: t, q: q, mon: mon, in: &injector{qemu: q}, ns: ns, name: name}
	c := nicplug.Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.CarrierHold == 0 {
		c.CarrierHold = nicplug.NoCarrierHold // fast switches
	}
	if ns != nil {
		r.host = backend.NewNetifHost(ns.path)
		c.Host = &faultHost{in: r.in, h: r.host}
	} else {
		c.Host = &faultHost{in: r.in, h: emptyHost{}}
	}
	r.vm, err = nicplug.NewVMForTest(&faultMon{in: r.in, mon: mon}, mon, dom, &c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// emptyHost is a host with nothing on it, for VMs using only backends
// inside QEMU: every host operation fails.
type emptyHost struct{}

var errNoHost = errors.New("test: no host in this test")

func (emptyHost) CreateMacvtap(context.Context, backend.MacvtapConfig) error     { return errNoHost }
func (emptyHost) CreateBridgeTap(context.Context, backend.BridgeTapConfig) error { return errNoHost }
func (emptyHost) OpenMacvtap(context.Context, string) (*os.File, error)          { return nil, errNoHost }
func (emptyHost) OpenTap(context.Context, string) (*os.File, error)              { return nil, errNoHost }
func (emptyHost) DeleteLink(context.Context, string) error                       { return errNoHost }
func (emptyHost) ListOwned(context.Context, string) ([]backend.OwnedLink, error) { return nil, nil }

// ctxT bounds a test: 60 s, stretched by NICPLUG_TIME_SCALE
// (testenv.Scale) where QEMU runs under nested TCG (internal/kernelvm).
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Scale(60*time.Second))
	t.Cleanup(cancel)
	return ctx
}

var fdRE = regexp.MustCompile(`fd=\d+`)

// snapshot is what QEMU's net clients and the host look like, canonical.
type snapshot struct {
	Net   []string // "hub 0: port -> peer(type)" and "client name(type) -> peer"
	Links []string // owned host links
	Plugs []string // what each owned tap (and tap7) is plugged into
	// Qdiscs are the test netns' qdiscs (`tc qdisc show`), so that a
	// qdisc added for a redirect and left behind is seen.
	Qdiscs []string
}

func (r *rig) snapshot(ctx context.Context) snapshot {
	r.t.Helper()
	var s snapshot
	if r.q != nil {
		select {
		case <-r.q.Done():
		default:
			s.Net = r.netLines(ctx)
		}
	}
	if r.host != nil {
		links, err := r.host.ListOwned(ctx, r.name)
		if err != nil {
			r.t.Fatal(err)
		}
		th := r.host.(backend.TapHost)
		for _, l := range links {
			s.Links = append(s.Links, l.Name+" "+l.Owner.NIC)
			if l.Kind == "tap" {
				s.Plugs = append(s.Plugs, r.plug(ctx, th, l.Name))
			}
		}
		slices.Sort(s.Links)
		// The ethernet backends' existing tap: its redirect to a fixed
		// tap, if any.
		s.Plugs = append(s.Plugs, r.plug(ctx, th, "tap7"))
	}
	if r.ns != nil {
		s.Qdiscs = r.ns.qdiscs(r.t)
	}
	return s
}

func (r *rig) infoNetwork(ctx context.Context) *backend.NetworkInfo {
	r.t.Helper()
	out, err := r.mon.HMP(ctx, "info network")
	if err != nil {
		r.t.Fatal(err)
	}
	ni, err := backend.ParseInfoNetwork(out)
	if err != nil {
		r.t.Fatal(err)
	}
	return ni
}

func (r *rig) netLines(ctx context.Context) []string {
	r.t.Helper()
	ni := r.infoNetwork(ctx)
	var lines []string
	peer := func(c *backend.Client) string {
		if c == nil {
			return "-"
		}
		return fmt.Sprintf("%s(%s %s)", c.Name, c.Type, fdRE.ReplaceAllString(c.Info, "fd=N"))
	}
	for _, h := range ni.Hubs {
		for _, p := range h.Ports {
			lines = append(lines, fmt.Sprintf("hub %d: %s -> %s", h.ID, p.Name, peer(p.Peer)))
		}
	}
	for _, c := range ni.Clients {
		lines = append(lines, fmt.Sprintf("client %s -> %s", peer(&c), peer(c.Peer)))
	}
	slices.Sort(lines)
	return lines
}

// attachedBackend returns the netdev attached to dev's hub (read with info
// network and qom-get), "" if none.
func (r *rig) attachedBackend(ctx context.Context, dev string) string {
	r.t.Helper()
	raw, err := r.mon.QOMGet(ctx, "/machine/peripheral/"+dev, "netdev")
	if err != nil {
		r.t.Fatal(err)
	}
	var peer string
	json.Unmarshal(raw, &peer)
	if peer != domain.HubPortIDFor(dev) {
		r.t.Fatalf("%s's netdev is %q, want its hub port", dev, peer)
	}
	ni := r.infoNetwork(ctx)
	h, _, ok := ni.Port(peer)
	if !ok {
		r.t.Fatalf("hub port %s not on a hub", peer)
	}
	var found []string
	for _, p := range h.Ports {
		if p.Name != peer && p.Peer != nil {
			found = append(found, p.Peer.Name)
		}
	}
	switch len(found) {
	case 0:
		return ""
	case 1:
		return found[0]
	}
	r.t.Fatalf("hub %d has %d backends: %v", h.ID, len(found), found)
	return ""
}

func (r *rig) requireSame(ctx context.Context, what string, want snapshot) {
	r.t.Helper()
	got := r.snapshot(ctx)
	if r.q != nil {
		select {
		case <-r.q.Done():
			want.Net = nil
		default:
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		r.t.Errorf("%s: state not restored (-before +after):\n%s", what, diff)
	}
}

func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// requireNoFDs checks that no fd name of plan p is left in QEMU and that
// this process holds as many fds as before.
func (r *rig) requireNoFDs(ctx context.Context, what string, p *nicplug.Plan, before int) {
	r.t.Helper()
	for _, s := range p.Steps {
		if s.Do.Command != "getfd" {
			continue
		}
		err := r.mon.CloseFD(ctx, s.Do.FD)
		var ce *qmp.CommandError
		if !errors.As(err, &ce) || !strings.Contains(ce.Desc, "not found") {
			r.t.Errorf("%s: fd name %s left in QEMU (closefd: %v)", what, s.Do.FD, err)
		}
	}
	if got := countFDs(r.t); got != before {
		r.t.Errorf("%s: process has %d fds, had %d", what, got, before)
	}
}

// close kills QEMU and deletes the VM's host links, so that the next rig
// in the same netns can use the same parent, MAC and taps.
func (r *rig) close(ctx context.Context) {
	r.t.Helper()
	r.q.Kill()
	if r.host == nil {
		return
	}
	links, err := r.host.ListOwned(ctx, r.name)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, l := range links {
		if err := r.host.DeleteLink(ctx, l.Name); err != nil {
			r.t.Fatal(err)
		}
	}
}

// freshVM is a second VM on r's QEMU, made from r.vm's domain: it knows
// nothing yet, so its first plan reads everything back.
func (r *rig) freshVM(ctx context.Context) *nicplug.VM {
	r.t.Helper()
	var host backend.Host = emptyHost{}
	if r.host != nil {
		host = r.host
	}
	vm, err := nicplug.NewVMForTest(r.mon, keepOpen{}, r.vm.Domain(), &nicplug.Config{Host: host, CarrierHold: nicplug.NoCarrierHold})
	if err != nil {
		r.t.Fatal(err)
	}
	return vm
}
