package nicplug_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

// cannedMon answers read-back commands from a table keyed by command and
// qom-get path/property; qom-get of anything else is a QMP error, as QEMU
// answers for a property a device does not have.
type cannedMon struct {
	status bool
	devs   []string
	info   string
	props  map[string]string // "dev/prop" -> value
	fail   error             // returned by every qom-get when set
}

func (m *cannedMon) Execute(ctx context.Context, cmd string, args any, files ...*os.File) (json.RawMessage, error) {
	var a struct{ Path, Property string }
	if raw, ok := args.(json.RawMessage); ok {
		json.Unmarshal(raw, &a)
	}
	switch cmd {
	case "query-status":
		return json.Marshal(map[string]bool{"running": m.status})
	case "qom-list":
		var out []map[string]string
		for _, d := range m.devs {
			out = append(out, map[string]string{"name": d, "type": "child<x>"})
		}
		out = append(out, map[string]string{"name": "type", "type": "string"})
		return json.Marshal(out)
	case "human-monitor-command":
		return json.Marshal(m.info)
	case "qom-get":
		if m.fail != nil {
			return nil, m.fail
		}
		key := strings.TrimPrefix(a.Path, "/machine/peripheral/") + "/" + a.Property
		if v, ok := m.props[key]; ok {
			return json.Marshal(v)
		}
		return nil, &qmp.CommandError{Command: cmd, Class: "GenericError", Desc: "Property '" + a.Property + "' not found"}
	}
	return nil, fmt.Errorf("unexpected command %s", cmd)
}

func TestReadWiring(t *testing.T) {
	user2 := backend.BackendID("net0", 2, user)
	user3 := backend.BackendID("net0", 3, user)
	lanOld := backend.BackendID("lan", 1, udp)
	info := strings.Join([]string{
		"hub 3",
		` \ np.odd.nic`,
		"hub 2",
		` \ np.moved.nic`,
		"hub 1",
		` \ ` + lanOld.Port().String(),
		` \ np.lan.nic: lan: index=0,type=nic,model=e1000,macaddr=52:54:00:00:00:02`,
		"hub 0",
		` \ ` + user2.Port().String() + ": " + user2.String() + ": index=0,type=user,net=10.0.2.0,restrict=off",
		` \ np.net0.nic: net0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:00:00:01`,
		user3.String() + ": index=0,type=user,net=10.0.2.0,restrict=off",
		"moved: index=0,type=nic,model=e1000,macaddr=52:54:00:00:00:09",
		` \ hostnet1: index=0,type=user,net=10.0.2.0,restrict=off`,
		"",
	}, "\r\n")
	mon := &cannedMon{
		status: true,
		// odd is no NIC; moved is a NIC not wired by nicplug; serial0
		// has no hub port.
		devs: []string{"serial0", "odd", "net0", "moved", "lan"},
		info: info,
		props: map[string]string{
			"net0/netdev": "np.net0.nic", "net0/mac": mac0,
			"lan/netdev": "np.lan.nic", "lan/mac": "52:54:00:00:00:02",
			"moved/netdev": "hostnet1", "moved/mac": "52:54:00:00:00:09",
		},
	}
	got, err := nicplug.ReadWiring(context.Background(), mon)
	if err != nil {
		t.Fatal(err)
	}
	want := &nicplug.State{Running: true, NICs: []nicplug.NICState{
		{Device: "lan", MAC: "52:54:00:00:00:02", Peer: "np.lan.nic", Hub: 1, Datapath: domain.DatapathHub, StrayPorts: []string{lanOld.Port().String()}},
		{Device: "net0", MAC: mac0, Peer: "np.net0.nic", Hub: 0, Datapath: domain.DatapathHub, Backends: []nicplug.BackendState{
			{ID: user3.String(), Driver: "user"},
			{ID: user2.String(), Driver: "user", Port: user2.Port().String()},
		}},
	}, Unmanaged: []nicplug.UnmanagedNIC{{Name: "moved", Model: "e1000", MAC: "52:54:00:00:00:09", Peer: "hostnet1", PeerType: "user",
		Reason: "it is peered with hostnet1 (user), not with a hub port of its own (np.moved.nic): it was not booted with the arguments of `nicplug qemu-args`"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadWiring (-want +got):\n%s", diff)
	}
	net0 := got.NICs[1]
	if b, ok := net0.Attached(); !ok || b.ID != user2.String() {
		t.Errorf("Attached = %v, %v; want %s", b, ok, user2)
	}
	if diff := cmp.Diff([]string{user3.String()}, net0.Leftovers()); diff != "" {
		t.Errorf("net0 leftovers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{lanOld.Port().String()}, got.NICs[0].Leftovers()); diff != "" {
		t.Errorf("lan leftovers (-want +got):\n%s", diff)
	}

	// A monitor that fails for another reason than a missing property
	// fails the read-back instead of hiding NICs.
	mon.fail = qmp.ErrClosed
	if st, err := nicplug.ReadWiring(context.Background(), mon); !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("ReadWiring on a closed monitor = %+v, %v; want qmp.ErrClosed", st, err)
	}
}

// TestAsLive: AsLive is the state a NIC has after nicplug wired it once.
func TestAsLive(t *testing.T) {
	for _, b := range []domain.Backend{none, user, direct, bridged, ethernet, udp} {
		want := attached("vm1", b, 1)
		if diff := cmp.Diff(want, nicplug.AsLive("vm1", wiring(b, true))); diff != "" {
			t.Errorf("AsLive(%v) (-want +got):\n%s", b, diff)
		}
	}
}

// TestUpdateAsLive checks the pure update plan against the planner run on
// the AsLive state, and that bad updates are classified as bad input.
func TestUpdateAsLive(t *testing.T) {
	dom, err := domain.ParseDomain(domainXML("vm1", xNone, iface(macB, "user", "")), nil)
	if err != nil {
		t.Fatal(err)
	}
	var pl nicplug.Planner // VM taken from the domain
	got, err := pl.UpdateAsLive(dom, []byte(xUser), nil)
	if err != nil {
		t.Fatal(err)
	}
	cur := nicplug.WiringOf(dom.NICs[0])
	wantW := cur
	wantW.Backend, wantW.LinkUp = user, true
	want, err := (&nicplug.Planner{VM: "vm1"}).Update(nicplug.AsLive("vm1", cur), cur, wantW)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(nicplug.Plan{})); diff != "" {
		t.Errorf("UpdateAsLive (-Planner.Update +UpdateAsLive):\n%s", diff)
	}

	if err := nicplug.CheckUpdate(dom, []byte(xUser), nil); err != nil {
		t.Errorf("CheckUpdate of a valid update = %v", err)
	}

	unreachable := errors.New("libvirt unreachable")
	tests := []struct {
		name     string
		xml      string
		resolver domain.NetworkResolver
		badInput bool
		as       any // a pointer errors.As must fill, or nil
		is       error
	}{
		{name: "not xml", xml: "<interface", badInput: true},
		{name: "no such NIC", xml: iface("52:54:00:99:99:99", "user", ""), badInput: true, is: domain.ErrNoDevice},
		{name: "model change", xml: `<interface type='user'><mac address='` + macA + `'/><model type='e1000'/></interface>`,
			badInput: true, as: new(*domain.ChangeError)},
		{name: "unsupported type", xml: `<interface type='vhostuser'><mac address='` + macA + `'/><model type='virtio'/></interface>`, badInput: true},
		{name: "network without resolver", xml: iface(macA, "network", "<source network='default'/>"), badInput: true},
		{name: "resolver fails", xml: iface(macA, "network", "<source network='default'/>"),
			resolver: func(string, string) (domain.Backend, error) { return domain.Backend{}, unreachable }, is: unreachable},
		{name: "resolver: no such network", xml: iface(macA, "network", "<source network='default'/>"),
			resolver: func(n, _ string) (domain.Backend, error) {
				return domain.Backend{}, fmt.Errorf("no network %q: %w", n, nicplug.ErrBadInput)
			}, badInput: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pl.UpdateAsLive(dom, []byte(tt.xml), &domain.ParseOptions{Resolver: tt.resolver})
			if err == nil {
				t.Fatalf("UpdateAsLive = %v, want an error", p)
			}
			if got := errors.Is(err, nicplug.ErrBadInput); got != tt.badInput {
				t.Errorf("errors.Is(%v, ErrBadInput) = %v, want %v", err, got, tt.badInput)
			}
			var ie *nicplug.InputError
			if errors.As(err, &ie) != tt.badInput || (tt.badInput && ie.Op != "update") {
				t.Errorf("errors.As(%v, *InputError) = %v (%+v)", err, !tt.badInput, ie)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("errors.As(%v, %T) = false", err, tt.as)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if !strings.HasPrefix(err.Error(), "nicplug: update: ") {
				t.Errorf("error %q does not start with nicplug: update: ", err)
			}
			// CheckUpdate makes the same checks.
			cerr := nicplug.CheckUpdate(dom, []byte(tt.xml), &domain.ParseOptions{Resolver: tt.resolver})
			if cerr == nil || cerr.Error() != err.Error() || errors.Is(cerr, nicplug.ErrBadInput) != tt.badInput {
				t.Errorf("CheckUpdate = %v, want %v", cerr, err)
			}
		})
	}
}

// TestIntegrationReadWiring checks ReadWiring against the domain-based
// read-back on a real QEMU that also has a NIC nicplug did not wire and a
// leftover backend.
func TestIntegrationReadWiring(t *testing.T) {
	testenv.RequireQEMU(t)
	ctx := ctxT(t)
	xml := domainXML("rw", xNone, iface(macB, "user", ""))
	q, dom := startDomain(t, xml, "-netdev", "user,id=hostnet9", "-device", "e1000,id=other,netdev=hostnet9,mac=52:54:00:00:00:09")
	mon, err := qmp.Dial(ctx, q.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	vm, err := nicplug.NewVMForTest(mon, mon, dom, &nicplug.Config{Host: emptyHost{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	leftover := backend.BackendID("net0", 5, user).String()
	if err := mon.NetdevAdd(ctx, map[string]any{"type": "user", "id": leftover}); err != nil {
		t.Fatal(err)
	}
	got, err := nicplug.ReadWiring(ctx, mon)
	if err != nil {
		t.Fatal(err)
	}
	want, err := vm.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want.VM = "" // ReadWiring knows no domain
	// The domain's NICs in device id order: net0, net1.
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ReadWiring differs from VM.State (-State +ReadWiring):\n%s", diff)
	}
	if len(got.NICs) != 2 || !got.Running {
		t.Fatalf("ReadWiring = %+v, want 2 NICs of a running VM", got)
	}
	if b, ok := got.NICs[1].Attached(); !ok || b.Driver != "user" {
		t.Errorf("net1 attached backend %+v, %v; want a user backend", b, ok)
	}
	if diff := cmp.Diff([]string{leftover}, got.NICs[0].Leftovers()); diff != "" {
		t.Errorf("net0 leftovers (-want +got):\n%s", diff)
	}
}

// TestIntegrationLinkStateNotReported backs the claim in the Interface doc:
// nothing QMP offers on QEMU 7.2 changes with a NIC's link state, so
// read-back cannot report it. Should a QEMU start reporting it, this fails
// and read-back should use it.
func TestIntegrationLinkStateNotReported(t *testing.T) {
	testenv.RequireQEMU(t)
	ctx := ctxT(t)
	q, _ := startDomain(t, domainXML("ls", xNone, `<interface type='none'><mac address='`+macB+`'/><model type='e1000'/></interface>`))
	mon, err := qmp.Dial(ctx, q.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	queries := []struct {
		cmd  string
		args map[string]any
	}{
		{"human-monitor-command", map[string]any{"command-line": "info network"}},
		{"query-rx-filter", map[string]any{"name": "net0"}},
		{"x-query-virtio-status", map[string]any{"path": "/machine/peripheral/net0/virtio-backend"}},
		{"qom-get", map[string]any{"path": "/machine/peripheral/net0", "property": "status"}},
		{"qom-get", map[string]any{"path": "/machine/peripheral/net0/virtio-backend", "property": "status"}},
		{"qom-list", map[string]any{"path": "/machine/peripheral/net0"}},
		{"qom-list", map[string]any{"path": "/machine/peripheral/net1"}},
	}
	read := func() []string {
		var out []string
		for _, qu := range queries {
			raw, err := mon.Execute(ctx, qu.cmd, qu.args)
			if err != nil {
				t.Fatalf("%s %v: %v", qu.cmd, qu.args, err)
			}
			out = append(out, string(raw))
		}
		return out
	}
	setLinks := func(up bool) {
		for _, dev := range []string{"net0", "net1"} {
			if _, err := mon.Execute(ctx, "set_link", map[string]any{"name": dev, "up": up}); err != nil {
				t.Fatal(err)
			}
		}
	}
	up := read()
	setLinks(false)
	down := read()
	setLinks(true)
	if diff := cmp.Diff(up, down); diff != "" {
		t.Errorf("a query reports link state, read-back could use it (-up +down):\n%s", diff)
	}
}
