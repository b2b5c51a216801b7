package domain_test

import (
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
)

// liveDomainXML has one NIC of every backend kind FromDevices writes, with
// every device property QEMU reports set on some of them.
const liveDomainXML = `<domain type='qemu'><name>vm1</name>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices>
<interface type='none'><mac address='52:54:00:00:00:01'/><model type='virtio'/>
  <address type='pci' domain='0' bus='0' slot='5' function='0'/><boot order='2'/><mtu size='1400'/></interface>
<interface type='user'><mac address='52:54:00:00:00:02'/><model type='e1000'/><rom bar='off' enabled='no'/></interface>
<interface type='direct'><mac address='52:54:00:00:00:03'/><source dev='eth0' mode='bridge'/><model type='virtio'/><alias name='ua-up'/></interface>
<interface type='ethernet'><mac address='52:54:00:00:00:04'/><target dev='tap7' managed='no'/><model type='rtl8139'/></interface>
<interface type='bridge'><mac address='52:54:00:00:00:05'/><source bridge='br0'/><model type='e1000e'/></interface>
<interface type='server'><mac address='52:54:00:00:00:06'/><source address='127.0.0.1' port='5000'/><model type='virtio'/></interface>
<interface type='mcast'><mac address='52:54:00:00:00:07'/><source address='230.0.0.1' port='5001'><local address='127.0.0.1'/></source><model type='virtio'/></interface>
<interface type='udp'><mac address='52:54:00:00:00:08'/><source address='127.0.0.1' port='5002'><local address='127.0.0.1' port='5003'/></source><model type='virtio'/></interface>
</devices></domain>`

// reported is what QEMU reports of the NICs of liveDomainXML (checked
// against a real QEMU by the root package's TestIntegrationLiveDomain).
func reported(d *domain.Domain) []domain.Device {
	var out []domain.Device
	for i, n := range d.NICs {
		dev := domain.Device{ID: n.DeviceID(), Driver: n.QEMUModel(), MAC: n.MAC(), Hub: n.HubID(),
			DevFn: (10 + i) << 3, BootIndex: -1, ROMBar: 1, ROMFile: "efi-rom", Backend: n.Backend()}
		x := n.XML
		if x.Address != nil {
			dev.DevFn = int(*x.Address.PCI.Slot<<3 | *x.Address.PCI.Function)
		}
		if x.Boot != nil {
			dev.BootIndex = int(x.Boot.Order)
		}
		if x.ROM != nil && x.ROM.Bar == "off" {
			dev.ROMBar = 0
		}
		if x.ROM != nil && x.ROM.Enabled == "no" {
			dev.ROMFile = ""
		}
		if x.MTU != nil {
			dev.HostMTU = x.MTU.Size
		}
		out = append(out, dev)
	}
	// QEMU lists devices in no particular order.
	out[0], out[len(out)-1] = out[len(out)-1], out[0]
	return out
}

func TestFromDevices(t *testing.T) {
	orig, err := domain.ParseDomain([]byte(liveDomainXML), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := domain.FromDevices("vm1", "q35", reported(orig))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.NICs) != len(orig.NICs) {
		t.Fatalf("got %d NICs, want %d", len(got.NICs), len(orig.NICs))
	}
	for i, o := range orig.NICs {
		n := got.NICs[i]
		if n.DeviceID() != o.DeviceID() || n.Backend() != o.Backend() || n.HubID() != o.HubID() {
			t.Errorf("NIC %d: got %s %s hub %d, want %s %s hub %d", i,
				n.DeviceID(), n.Backend(), n.HubID(), o.DeviceID(), o.Backend(), o.HubID())
		}
		// The original, as an update of the rebuilt NIC, changes nothing:
		// every property libvirt refuses to change live came back.
		cs, err := domain.Diff(n, o)
		if err != nil {
			t.Errorf("NIC %s: %v", o.DeviceID(), err)
		}
		if cs.Backend != nil || cs.Link != nil {
			t.Errorf("NIC %s: change set %+v, want none", o.DeviceID(), cs)
		}
	}
	// The rebuilt domain gives the QEMU arguments the original gave, but
	// with every PCI address explicit.
	args, err := got.QEMUArgs()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"driver":"virtio-net-pci","id":"net0","netdev":"np.net0.nic","mac":"52:54:00:00:00:01","bus":"pcie.0","addr":"0x5.0x0","bootindex":2,"host_mtu":1400,"csum":false,"guest_csum":false,"guest_tso4":false,"guest_tso6":false,"guest_ecn":false,"guest_ufo":false,"host_tso4":false,"host_tso6":false,"host_ecn":false,"host_ufo":false}`; args[3] != want {
		t.Errorf("net0 -device:\n got %s\nwant %s", args[3], want)
	}
	if want := `{"driver":"e1000","id":"net1","netdev":"np.net1.nic","mac":"52:54:00:00:00:02","bus":"pcie.0","addr":"0xb.0x0","rombar":0,"romfile":""}`; args[7] != want {
		t.Errorf("net1 -device:\n got %s\nwant %s", args[7], want)
	}
	// A change of model is still refused against the rebuilt NIC.
	upd, err := domain.ParseInterface([]byte(`<interface type='user'><mac address='52:54:00:00:00:02'/><model type='virtio'/></interface>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := got.Find(upd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := domain.Diff(old, upd); err == nil || !strings.Contains(err.Error(), "cannot modify network device model from e1000 to virtio") {
		t.Errorf("model change: got %v", err)
	}
}

func TestFromDevicesNoMachine(t *testing.T) {
	devs := []domain.Device{{ID: "net0", Driver: "virtio-net-pci", MAC: "52:54:00:00:00:01", DevFn: 40, BootIndex: -1, ROMBar: 1, ROMFile: "x"}}
	d, err := domain.FromDevices("vm1", "", devs)
	if err != nil {
		t.Fatal(err)
	}
	if a := d.NICs[0].XML.Address; a != nil {
		t.Errorf("address %+v without a machine, want none", a)
	}
	if !d.NICs[0].Backend().IsNone() {
		t.Errorf("backend %s, want none", d.NICs[0].Backend())
	}
}

func TestFromDevicesRejects(t *testing.T) {
	ok := domain.Device{ID: "net0", Driver: "virtio-net-pci", MAC: "52:54:00:00:00:01", DevFn: -1, BootIndex: -1, ROMBar: 1, ROMFile: "x"}
	with := func(f func(*domain.Device)) []domain.Device {
		d := ok
		f(&d)
		return []domain.Device{d}
	}
	tests := []struct {
		name string
		vm   string
		devs []domain.Device
		want string
	}{
		{"no name", "", []domain.Device{ok}, "no domain name"},
		{"hub gap", "vm1", with(func(d *domain.Device) { d.Hub = 1 }), "device net0 is on hub 1"},
		{"unknown driver", "vm1", with(func(d *domain.Device) { d.Driver = "virtio-blk-pci" }), "QEMU device type 'virtio-blk-pci' is not a NIC model"},
		{"bad mac", "vm1", with(func(d *domain.Device) { d.MAC = "zz" }), "zz"},
		{"bad id", "vm1", with(func(d *domain.Device) { d.ID = "a.b" }), `"a.b"`},
		{"bad backend", "vm1", with(func(d *domain.Device) { d.Backend = domain.Backend{Type: "vhostuser"} }), "backend type 'vhostuser'"},
		{"bad direct", "vm1", with(func(d *domain.Device) {
			d.Backend = domain.Backend{Type: domain.TypeDirect, Dev: "a/b", Mode: "bridge"}
		}), "a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.FromDevices(tt.vm, "q35", tt.devs)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "domain: ") {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
