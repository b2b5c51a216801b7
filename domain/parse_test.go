package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
)

func TestParseInterfaceErrors(t *testing.T) {
	tests := []struct {
		name, xml, want string
	}{
		{"empty", ``, "domain: malformed XML: no root element"},
		{"truncated", `<interface type='none'>`, "domain: malformed XML: XML syntax error on line 1: unexpected EOF"},
		{"wrong root", `<domain/>`, "domain: root element is <domain>, want <interface>"},
		{"two roots", mac1 + `<interface type='none'/>`, "domain: malformed XML: more than one root element"},
		{"two type attributes", `<interface type='none' type='user'>` + mac1 + `</interface>`, "domain: an <interface> has more than one type attribute"},
		{"namespaced type attributes", `<interface xmlns:x='urn:x' x:type='bridge' type='user'>` + mac1 + `</interface>`, "domain: an <interface> has more than one type attribute"},
		{"missing type", `<interface>` + mac1 + `</interface>`, "domain: interface: the type attribute is missing"},
		{"null with source", `<interface type='null'>` + mac1 + `<source/></interface>`, "domain: interface: type 'null' takes no <source>"},
		{"bad port", `<interface type='client'>` + mac1 + `<source address='192.0.2.1' port='70000'/></interface>`, "domain: interface: client port 70000 is out of range 1-65535"},
		{"two sources", `<interface type='direct'>` + mac1 + `<source dev='eth0' mode='bridge'/><source dev='eth1' mode='vepa'/></interface>`, "domain: interface: more than one <source> element: give one"},
		{"two macs", `<interface type='user'>` + mac1 + `<mac address='52:54:00:00:00:02'/></interface>`, "domain: interface: more than one <mac> element: give one"},
		{"two drivers", `<interface type='user'>` + mac1 + `<driver queues='2'/><driver queues='4'/></interface>`, "domain: interface: more than one <driver> element: give one"},
		{"zero mac", `<interface type='user'><mac address='00:00:00:00:00:00'/></interface>`, "domain: interface: mac address \"00:00:00:00:00:00\" is all zeros: a NIC needs a unicast address"},
		{"no identity", `<interface type='user'/>`, "domain: interface has neither <mac address=…/> nor <alias name=…/>: nothing to match it with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.ParseInterface([]byte(tt.xml), nil)
			if err == nil {
				t.Fatal("ParseInterface succeeded")
			}
			if want, got := tt.want, err.Error(); want != got {
				t.Errorf("error:\nwant %q\ngot  %q", want, got)
			}
		})
	}
}

func TestTypeError(t *testing.T) {
	for _, typ := range []string{"vhostuser", "vdpa", "hostdev", "internal", "vds", "bogus"} {
		_, err := domain.ParseInterface([]byte(`<interface type='`+typ+`'>`+mac1+`</interface>`), nil)
		var te *domain.TypeError
		if !errors.As(err, &te) {
			t.Errorf("%s: error %v (%T), want *TypeError", typ, err, err)
			continue
		}
		if want, got := typ, te.Type; want != got {
			t.Errorf("TypeError.Type: want %q, got %q", want, got)
		}
		if !strings.Contains(err.Error(), "'"+typ+"'") {
			t.Errorf("error %q does not name the type", err)
		}
	}
	_, err := domain.ParseInterface([]byte(`<interface type='vhostuser'>`+mac1+`</interface>`), nil)
	if !strings.Contains(err.Error(), "bypassing QEMU's net layer") {
		t.Errorf("vhostuser error %q does not say why", err)
	}
}

func TestBackendValidate(t *testing.T) {
	good := []domain.Backend{
		{Type: domain.TypeNone},
		{Type: domain.TypeUser},
		{Type: domain.TypeDirect, Dev: "eth0", Mode: "passthrough"},
		{Type: domain.TypeEthernet, Dev: "tap0"},
		{Type: domain.TypeBridge, Bridge: "br-lan_0"},
		{Type: domain.TypeServer, Address: "127.0.0.1", Port: 5000},
		{Type: domain.TypeClient, Address: "host.example.org", Port: 5000},
		{Type: domain.TypeMcast, Address: "239.0.0.1", Port: 5000},
		{Type: domain.TypeUDP, Address: "192.0.2.1", Port: 1, LocalAddress: "0.0.0.0", LocalPort: 2},
	}
	for _, b := range good {
		if err := b.Validate(); err != nil {
			t.Errorf("%+v: %v", b, err)
		}
	}
	bad := []domain.Backend{
		{},
		{Type: domain.TypeNone, Dev: "x"},
		{Type: domain.TypeDirect, Dev: "eth0"},
		{Type: domain.TypeServer, Address: "127.0.0.1"},
		{Type: domain.TypeServer, Address: "127.0.0.1", Port: 1, LocalPort: 2},
		{Type: domain.TypeMcast, Address: "239.0.0.1", Port: 1, LocalPort: 2},
		// IPv6: QEMU's socket netdev cannot take it (issue 13).
		{Type: domain.TypeServer, Address: "::1", Port: 5000},
		{Type: domain.TypeClient, Address: "2001:db8::1", Port: 5000},
		{Type: domain.TypeMcast, Address: "ff02::1", Port: 5000},
		{Type: domain.TypeMcast, Address: "239.0.0.1", Port: 5000, LocalAddress: "::1"},
		{Type: domain.TypeUDP, Address: "192.0.2.1", Port: 1, LocalAddress: "::", LocalPort: 2},
		{Type: domain.TypeUDP, Address: "192.0.2.1", Port: 1},
		{Type: "tap", Dev: "tap0"},
	}
	for _, b := range bad {
		if err := b.Validate(); err == nil {
			t.Errorf("%+v validated", b)
		}
	}
}
