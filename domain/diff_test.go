package domain_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/domain"
)

func mustNIC(t *testing.T, xml string) *domain.NIC {
	t.Helper()
	n, err := domain.ParseInterface([]byte(xml), testOpts)
	if err != nil {
		t.Fatalf("ParseInterface(%s): %v", xml, err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

const mac1 = `<mac address='52:54:00:00:00:01'/>`

func TestDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     domain.ChangeSet
	}{
		{
			name: "identical",
			old:  `<interface type='bridge'>` + mac1 + `<source bridge='br0'/><model type='virtio'/></interface>`,
			new:  `<interface type='bridge'>` + mac1 + `<source bridge='br0'/><model type='virtio'/></interface>`,
		},
		{
			name: "none and null are the same",
			old:  `<interface type='none'>` + mac1 + `</interface>`,
			new:  `<interface type='null'>` + mac1 + `</interface>`,
		},
		{
			name: "network resolving to the same bridge is no change",
			old:  `<interface type='bridge'>` + mac1 + `<source bridge='virbr0'/></interface>`,
			new:  `<interface type='network'>` + mac1 + `<source network='default'/></interface>`,
		},
		{
			name: "plug: none to bridge brings link up",
			old:  `<interface type='none'>` + mac1 + `<model type='virtio'/></interface>`,
			new:  `<interface type='bridge'>` + mac1 + `<source bridge='br0'/><model type='virtio'/></interface>`,
			want: domain.ChangeSet{Link: ptr(true), Backend: &domain.Backend{Type: domain.TypeBridge, Bridge: "br0"}},
		},
		{
			name: "plug with link down keeps link down",
			old:  `<interface type='none'>` + mac1 + `</interface>`,
			new:  `<interface type='user'>` + mac1 + `<link state='down'/></interface>`,
			want: domain.ChangeSet{Backend: &domain.Backend{Type: domain.TypeUser}},
		},
		{
			name: "unplug",
			old:  `<interface type='direct'>` + mac1 + `<source dev='eth0' mode='bridge'/></interface>`,
			new:  `<interface type='null'>` + mac1 + `</interface>`,
			want: domain.ChangeSet{Link: ptr(false), Backend: &domain.Backend{Type: domain.TypeNone}},
		},
		{
			name: "move bridge to direct",
			old:  `<interface type='bridge'>` + mac1 + `<source bridge='br0'/></interface>`,
			new:  `<interface type='direct'>` + mac1 + `<source dev='eth0'/></interface>`,
			want: domain.ChangeSet{Backend: &domain.Backend{Type: domain.TypeDirect, Dev: "eth0", Mode: "vepa"}},
		},
		{
			name: "change bridge",
			old:  `<interface type='bridge'>` + mac1 + `<source bridge='br0'/></interface>`,
			new:  `<interface type='bridge'>` + mac1 + `<source bridge='br1'/></interface>`,
			want: domain.ChangeSet{Backend: &domain.Backend{Type: domain.TypeBridge, Bridge: "br1"}},
		},
		{
			name: "change udp port",
			old:  `<interface type='udp'>` + mac1 + `<source address='192.0.2.2' port='1'><local address='192.0.2.1' port='2'/></source></interface>`,
			new:  `<interface type='udp'>` + mac1 + `<source address='192.0.2.2' port='3'><local address='192.0.2.1' port='2'/></source></interface>`,
			want: domain.ChangeSet{Backend: &domain.Backend{Type: domain.TypeUDP, Address: "192.0.2.2", Port: 3, LocalAddress: "192.0.2.1", LocalPort: 2}},
		},
		{
			name: "link down only",
			old:  `<interface type='user'>` + mac1 + `</interface>`,
			new:  `<interface type='user'>` + mac1 + `<link state='down'/></interface>`,
			want: domain.ChangeSet{Link: ptr(false)},
		},
		{
			name: "update leaving out MAC, address and tap name keeps them",
			old:  `<interface type='bridge'>` + mac1 + `<source bridge='br0'/><target dev='vnet3'/><alias name='lan'/><address type='pci' bus='0' slot='5' function='0'/></interface>`,
			new:  `<interface type='bridge'><source bridge='br0'/><alias name='lan'/></interface>`,
		},
		{
			name: "explicit defaults equal absent ones",
			old:  `<interface type='user'>` + mac1 + `</interface>`,
			new:  `<interface type='user'>` + mac1 + `<model type='rtl8139'/><driver name='qemu' queues='1'/><rom bar='on' enabled='yes'/></interface>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.Diff(mustNIC(t, tt.old), mustNIC(t, tt.new))
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ChangeSet (-want +got):\n%s", diff)
			}
			if want, got := tt.want.Empty(), got.Empty(); want != got {
				t.Errorf("Empty: want %v, got %v", want, got)
			}
		})
	}
}

func TestDiffRefused(t *testing.T) {
	const base = `<interface type='bridge'>` + mac1 + `<source bridge='br0'/><model type='virtio'/>`
	tests := []struct {
		name     string
		old, new string
		field    string
		msg      string
	}{
		{"mac", base + `</interface>`, `<interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/><model type='virtio'/></interface>`,
			domain.FieldMAC, "domain: cannot change network interface mac address from 52:54:00:00:00:01 to 52:54:00:00:00:02"},
		{"model", base + `</interface>`, `<interface type='bridge'>` + mac1 + `<source bridge='br0'/><model type='e1000'/></interface>`,
			domain.FieldModel, "domain: cannot modify network device model from virtio to e1000"},
		{"default model", `<interface type='user'>` + mac1 + `</interface>`, `<interface type='user'>` + mac1 + `<model type='virtio'/></interface>`,
			domain.FieldModel, "domain: cannot modify network device model from rtl8139 to virtio"},
		{"driver", base + `</interface>`, base + `<driver name='qemu' queues='1'/></interface>`, "", ""},
		{"tap name", base + `<target dev='vnet0'/></interface>`, base + `<target dev='vnet1'/></interface>`,
			domain.FieldTapName, "domain: cannot modify network device tap name (from vnet0 to vnet1)"},
		{"pci address", base + `<address type='pci' bus='0' slot='5' function='0'/></interface>`, base + `<address type='pci' bus='0' slot='6' function='0'/></interface>`,
			domain.FieldPCIAddress, "domain: cannot modify network device guest PCI address (from 0000:00:05.0 to 0000:00:06.0)"},
		{"pci address added", base + `</interface>`, base + `<address type='pci' bus='0' slot='6' function='0'/></interface>`,
			domain.FieldPCIAddress, "domain: cannot modify network device guest PCI address (from (default) to 0000:00:06.0)"},
		{"alias", base + `<alias name='a'/></interface>`, base + `<alias name='b'/></interface>`,
			domain.FieldAlias, "domain: cannot modify network device alias (from a to b)"},
		{"rom bar", base + `</interface>`, base + `<rom bar='off'/></interface>`,
			domain.FieldROMBar, "domain: cannot modify network device rom bar setting (from on to off)"},
		{"rom enabled", base + `</interface>`, base + `<rom enabled='no'/></interface>`,
			domain.FieldROMEnabled, "domain: cannot modify network device rom enabled setting (from yes to no)"},
		{"boot order", base + `<boot order='1'/></interface>`, base + `<boot order='2'/></interface>`,
			domain.FieldBootOrder, "domain: cannot modify network device boot index setting (from 1 to 2)"},
		{"boot order removed", base + `<boot order='1'/></interface>`, base + `</interface>`,
			domain.FieldBootOrder, "domain: cannot modify network device boot index setting (from 1 to (none))"},
		{"mtu", base + `<mtu size='1500'/></interface>`, base + `<mtu size='9000'/></interface>`,
			domain.FieldMTU, "domain: cannot modify MTU (from 1500 to 9000)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := domain.Diff(mustNIC(t, tt.old), mustNIC(t, tt.new))
			if tt.field == "" {
				// Explicit values equal to the defaults are no change.
				if err != nil || !c.Empty() {
					t.Fatalf("Diff = %+v, %v; want empty", c, err)
				}
				return
			}
			var ce *domain.ChangeError
			if !errors.As(err, &ce) {
				t.Fatalf("Diff error %v (%T), want *ChangeError", err, err)
			}
			if want, got := tt.field, ce.Field; want != got {
				t.Errorf("Field: want %q, got %q", want, got)
			}
			if want, got := tt.msg, err.Error(); want != got {
				t.Errorf("message:\nwant %q\ngot  %q", want, got)
			}
		})
	}
}

func TestDiffDriverDefaults(t *testing.T) {
	old := mustNIC(t, `<interface type='user'>`+mac1+`<model type='virtio'/><driver queues='1'/></interface>`)
	// Only name=qemu and queues<=1 parse, so explicit defaults must be no change.
	n := mustNIC(t, `<interface type='user'>`+mac1+`<model type='virtio'/><driver name='qemu'/></interface>`)
	if c, err := domain.Diff(old, n); err != nil || !c.Empty() {
		t.Fatalf("Diff = %+v, %v; want empty", c, err)
	}
	if _, err := domain.Diff(nil, n); err == nil {
		t.Error("Diff(nil, n) succeeded")
	}
}
