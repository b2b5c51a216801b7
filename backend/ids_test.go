package backend_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

func TestNetdevIDRoundTrip(t *testing.T) {
	user := domain.Backend{Type: domain.TypeUser}
	b := backend.BackendID("net0", 3, user)
	tests := []struct {
		id   backend.NetdevID
		want string
	}{
		{backend.NetdevID{Device: "net0", Role: backend.RoleNICPort}, "np.net0.nic"},
		{b, "np.net0.b3.h" + backend.SpecHash(user)},
		{b.Port(), "np.net0.p3"},
		// An older nicplug's hub port, still recognized.
		{backend.NetdevID{Device: "net0", Role: backend.RoleBackendPort, Gen: 3, Hash: backend.SpecHash(user)}, "np.net0.b3.h" + backend.SpecHash(user) + ".hp"},
		{b.FD(0), "np.net0.b3.h" + backend.SpecHash(user) + ".fd0"},
		{b.FD(12), "np.net0.b3.h" + backend.SpecHash(user) + ".fd12"},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.id, got, tt.want)
		}
		got, err := backend.ParseNetdevID(tt.want)
		if err != nil {
			t.Fatalf("ParseNetdevID(%q): %v", tt.want, err)
		}
		if diff := cmp.Diff(tt.id, got); diff != "" {
			t.Errorf("ParseNetdevID(%q) mismatch (-want +got):\n%s", tt.want, diff)
		}
	}
}

func TestParseNetdevIDRejects(t *testing.T) {
	for _, s := range []string{
		"", "hostnet0", "np.", "np..nic", "np.net0", "np.net0.b0.h12345678",
		"np.net0.b01.h12345678", "np.net0.bx.h12345678", "np.net0.b1.h1234567",
		"np.net0.b1.h1234567G", "np.net0.b1.hABCDEF12", "np.net0.b1.h12345678.xx",
		"np.net0.b1.h12345678.fd", "np.net0.b1.h12345678.fd-1", "np.net0.b1.h12345678.hp.x",
		"np.net0.b1.12345678", "np.net0.p0", "np.net0.p01", "np.net0.px", "np.net0.p",
	} {
		if id, err := backend.ParseNetdevID(s); err == nil {
			t.Errorf("ParseNetdevID(%q) = %+v, want error", s, id)
		} else if !strings.HasPrefix(err.Error(), "backend: ") {
			t.Errorf("ParseNetdevID(%q) error %q lacks package prefix", s, err)
		}
	}
}

func TestSpecHashDistinguishes(t *testing.T) {
	specs := []domain.Backend{
		{Type: domain.TypeUser},
		{Type: domain.TypeDirect, Dev: "eth0", Mode: "bridge"},
		{Type: domain.TypeDirect, Dev: "eth0", Mode: "vepa"},
		{Type: domain.TypeDirect, Dev: "eth1", Mode: "bridge"},
		{Type: domain.TypeEthernet, Dev: "eth0"},
		{Type: domain.TypeBridge, Bridge: "eth0"},
		{Type: domain.TypeServer, Address: "127.0.0.1", Port: 1},
		{Type: domain.TypeClient, Address: "127.0.0.1", Port: 1},
		{Type: domain.TypeUDP, Address: "127.0.0.1", Port: 1, LocalAddress: "127.0.0.1", LocalPort: 2},
		{Type: domain.TypeUDP, Address: "127.0.0.1", Port: 1, LocalAddress: "127.0.0.1", LocalPort: 3},
	}
	seen := map[string]domain.Backend{}
	for _, s := range specs {
		h := backend.SpecHash(s)
		if h != backend.SpecHash(s) {
			t.Fatalf("SpecHash(%v) not deterministic", s)
		}
		if prev, ok := seen[h]; ok {
			t.Errorf("SpecHash(%v) == SpecHash(%v) == %s", s, prev, h)
		}
		seen[h] = s
	}
}

func TestLinkName(t *testing.T) {
	a, b := backend.LinkName("vm1", "net0", 1), backend.LinkName("vm1", "net0", 2)
	if a == b || a != backend.LinkName("vm1", "net0", 1) {
		t.Errorf("LinkName not deterministic or not distinct: %q %q", a, b)
	}
	if len(a) > 15 || !strings.HasPrefix(a, "np") {
		t.Errorf("LinkName = %q, want np-prefixed and at most 15 bytes", a)
	}
}
