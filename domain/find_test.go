package domain_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/domain"
)

const findDomain = `<domain type='kvm'><name>f</name><devices>
  <interface type='none'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>
  <interface type='user'><mac address='52:54:00:00:00:02'/><model type='virtio'/><alias name='lan'/></interface>
  <interface type='none'><mac address='52:54:00:00:00:03'/><model type='e1000'/><alias name='dup1'/></interface>
  <interface type='none'><mac address='52:54:00:00:00:03'/><model type='e1000'/><alias name='dup2'/></interface>
</devices></domain>`

func TestFind(t *testing.T) {
	d, err := domain.ParseDomain([]byte(findDomain), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		update  string
		want    string // device id
		wantErr error
		msg     string
	}{
		{name: "by MAC", update: `<interface type='user'><mac address='52:54:00:00:00:01'/></interface>`, want: "net0"},
		{name: "by MAC any case", update: `<interface type='user'><mac address='52:54:00:00:00:0A'/></interface>`,
			wantErr: domain.ErrNoDevice, msg: "domain: no device matching MAC address 52:54:00:00:00:0a found"},
		{name: "by alias", update: `<interface type='user'><alias name='lan'/></interface>`, want: "lan"},
		{name: "by automatic alias", update: `<interface type='user'><alias name='net0'/></interface>`, want: "net0"},
		{name: "alias and MAC", update: `<interface type='user'><mac address='52:54:00:00:00:02'/><alias name='lan'/></interface>`, want: "lan"},
		{name: "alias with wrong MAC", update: `<interface type='user'><mac address='52:54:00:00:00:01'/><alias name='lan'/></interface>`,
			wantErr: domain.ErrNoDevice, msg: "domain: no device matching MAC address 52:54:00:00:00:01 and alias lan found"},
		{name: "alias disambiguates MAC", update: `<interface type='user'><mac address='52:54:00:00:00:03'/><alias name='dup2'/></interface>`, want: "dup2"},
		{name: "ambiguous MAC", update: `<interface type='user'><mac address='52:54:00:00:00:03'/></interface>`,
			wantErr: domain.ErrAmbiguous, msg: "domain: multiple devices matching MAC address 52:54:00:00:00:03 found"},
		{name: "no such MAC", update: `<interface type='user'><mac address='52:54:00:00:00:09'/></interface>`,
			wantErr: domain.ErrNoDevice, msg: "domain: no device matching MAC address 52:54:00:00:00:09 found"},
		{name: "no such alias", update: `<interface type='user'><alias name='wan'/></interface>`,
			wantErr: domain.ErrNoDevice, msg: "domain: no device matching alias wan found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Find(mustNIC(t, tt.update))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Find error %v, want %v", err, tt.wantErr)
				}
				if want, got := tt.msg, err.Error(); want != got {
					t.Errorf("message: want %q, got %q", want, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			if want, got := tt.want, got.DeviceID(); want != got {
				t.Errorf("found %q, want %q", got, want)
			}
		})
	}
}

func TestParseInterfaceNeedsIdentity(t *testing.T) {
	_, err := domain.ParseInterface([]byte(`<interface type='user'><model type='virtio'/></interface>`), nil)
	if err == nil {
		t.Fatal("ParseInterface accepted an interface with neither MAC nor alias")
	}
}

func TestWithUpdate(t *testing.T) {
	d, err := domain.ParseDomain([]byte(findDomain), nil)
	if err != nil {
		t.Fatal(err)
	}
	before, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// By MAC, no alias: the replacement keeps the old identity.
	up := mustNIC(t, `<interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/><model type='virtio'/></interface>`)
	d2, err := d.WithUpdate(up)
	if err != nil {
		t.Fatal(err)
	}
	n := d2.NICs[1]
	if want, got := "lan", n.DeviceID(); want != got {
		t.Errorf("DeviceID: want %q, got %q", want, got)
	}
	if want, got := 1, n.Index; want != got {
		t.Errorf("Index: want %d, got %d", want, got)
	}
	if want, got := (domain.Backend{Type: domain.TypeBridge, Bridge: "br0"}), n.Backend(); want != got {
		t.Errorf("Backend: want %v, got %v", want, got)
	}
	if up.Index != -1 || up.XML.Alias != nil {
		t.Errorf("WithUpdate modified the update: index %d alias %v", up.Index, up.XML.Alias)
	}
	after, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(before), string(after)); diff != "" {
		t.Errorf("WithUpdate modified the original domain:\n%s", diff)
	}
	// The new domain marshals and re-parses with the new NIC and the
	// none spellings of the others intact.
	out, err := d2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	d3, err := domain.ParseDomain(out, nil)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	for i, want := range []string{"none", "bridge", "none", "none"} {
		if got := d3.NICs[i].Spelling; got != want {
			t.Errorf("NIC %d spelling %q, want %q", i, got, want)
		}
	}
	if want, got := "lan", d3.NICs[1].DeviceID(); want != got {
		t.Errorf("re-parsed DeviceID: want %q, got %q", want, got)
	}
	// By alias, no MAC: the MAC is kept.
	d4, err := d2.WithUpdate(mustNIC(t, `<interface type='null'><alias name='lan'/><model type='virtio'/></interface>`))
	if err != nil {
		t.Fatal(err)
	}
	if want, got := "52:54:00:00:00:02", d4.NICs[1].MAC(); want != got {
		t.Errorf("MAC: want %q, got %q", want, got)
	}
	if d4.NICs[1].LinkUp() {
		t.Error("unplugged NIC has link up")
	}
	// Updates that cannot happen live are refused.
	_, err = d.WithUpdate(mustNIC(t, `<interface type='none'><mac address='52:54:00:00:00:01'/><model type='e1000'/></interface>`))
	var ce *domain.ChangeError
	if !errors.As(err, &ce) || ce.Field != domain.FieldModel {
		t.Errorf("WithUpdate(model change) error %v, want *ChangeError for model", err)
	}
	_, err = d.WithUpdate(mustNIC(t, `<interface type='none'><mac address='52:54:00:00:00:03'/><model type='e1000'/></interface>`))
	if !errors.Is(err, domain.ErrAmbiguous) {
		t.Errorf("WithUpdate(ambiguous) error %v, want ErrAmbiguous", err)
	}
}
