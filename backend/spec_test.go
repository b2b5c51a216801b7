package backend_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

func TestNetdevArgs(t *testing.T) {
	tests := []struct {
		name string
		b    domain.Backend
		fds  []string
		need backend.HostNeed
		want string
	}{
		{"user", domain.Backend{Type: domain.TypeUser}, nil, backend.NeedNothing, `{"type":"user","id":"X"}`},
		{"direct", domain.Backend{Type: domain.TypeDirect, Dev: "eth0", Mode: "bridge"}, []string{"X.fd0"}, backend.NeedMacvtap, `{"type":"tap","id":"X","fd":"X.fd0"}`},
		{"direct default mode", domain.Backend{Type: domain.TypeDirect, Dev: "eth0"}, []string{"X.fd0"}, backend.NeedMacvtap, `{"type":"tap","id":"X","fd":"X.fd0"}`},
		{"ethernet", domain.Backend{Type: domain.TypeEthernet, Dev: "tap0"}, []string{"X.fd0"}, backend.NeedTap, `{"type":"tap","id":"X","fd":"X.fd0"}`},
		{"bridge", domain.Backend{Type: domain.TypeBridge, Bridge: "br0"}, []string{"X.fd0"}, backend.NeedBridgeTap, `{"type":"tap","id":"X","fd":"X.fd0"}`},
		{"server", domain.Backend{Type: domain.TypeServer, Address: "127.0.0.1", Port: 5555}, nil, backend.NeedNothing, `{"type":"socket","id":"X","listen":"127.0.0.1:5555"}`},
		{"server any", domain.Backend{Type: domain.TypeServer, Port: 5555}, nil, backend.NeedNothing, `{"type":"socket","id":"X","listen":":5555"}`},
		{"client v6", domain.Backend{Type: domain.TypeClient, Address: "::1", Port: 5555}, nil, backend.NeedNothing, `{"type":"socket","id":"X","connect":"[::1]:5555"}`},
		{"mcast", domain.Backend{Type: domain.TypeMcast, Address: "230.0.0.1", Port: 5558}, nil, backend.NeedNothing, `{"type":"socket","id":"X","mcast":"230.0.0.1:5558"}`},
		{"mcast local", domain.Backend{Type: domain.TypeMcast, Address: "230.0.0.1", Port: 5558, LocalAddress: "127.0.0.1"}, nil, backend.NeedNothing, `{"type":"socket","id":"X","mcast":"230.0.0.1:5558","localaddr":"127.0.0.1"}`},
		{"udp", domain.Backend{Type: domain.TypeUDP, Address: "127.0.0.1", Port: 1, LocalAddress: "127.0.0.1", LocalPort: 2}, nil, backend.NeedNothing, `{"type":"socket","id":"X","udp":"127.0.0.1:1","localaddr":"127.0.0.1:2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			need, err := backend.Needs(tt.b)
			if err != nil || need != tt.need {
				t.Fatalf("Needs = %v, %v; want %v", need, err, tt.need)
			}
			got, err := backend.NetdevArgs("X", tt.b, tt.fds...)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("NetdevArgs = %s, want %s", got, tt.want)
			}
			// Driver is the "type" QEMU gets, and info network shows.
			var args struct{ Type string }
			if err := json.Unmarshal(got, &args); err != nil {
				t.Fatal(err)
			}
			if driver, err := backend.Driver(tt.b); err != nil || driver != args.Type {
				t.Errorf("Driver = %q, %v; want %q", driver, err, args.Type)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		b    domain.Backend
		want string // substring of the error
	}{
		{domain.Backend{Type: domain.TypeDirect}, "source dev: empty"},
		{domain.Backend{Type: domain.TypeDirect, Dev: "eth0", Mode: "bogus"}, "unknown macvtap mode"},
		{domain.Backend{Type: domain.TypeDirect, Dev: "a/b"}, "contains '/'"},
		{domain.Backend{Type: domain.TypeDirect, Dev: "abcdefghijklmnop"}, "longer than 15"},
		{domain.Backend{Type: domain.TypeEthernet}, "target dev"},
		{domain.Backend{Type: domain.TypeBridge}, "source bridge"},
		{domain.Backend{Type: domain.TypeServer, Address: "x", Port: 1}, "listen address"},
		{domain.Backend{Type: domain.TypeServer, Port: 0}, "port 0 out of range"},
		{domain.Backend{Type: domain.TypeClient, Address: "localhost", Port: 1}, "not an IP address"},
		{domain.Backend{Type: domain.TypeClient, Address: "127.0.0.1", Port: 70000}, "out of range"},
		{domain.Backend{Type: domain.TypeMcast, Address: "127.0.0.1", Port: 1}, "not a multicast"},
		{domain.Backend{Type: domain.TypeUDP, Address: "127.0.0.1", Port: 1}, "local address"},
		{domain.Backend{Type: domain.TypeMcast, Address: "230.0.0.1", Port: 1, LocalAddress: "x"}, "local address"},
		{domain.Backend{Type: domain.TypeUDP, Address: "127.0.0.1", Port: 1, LocalAddress: "127.0.0.1"}, "local port 0"},
		{domain.Backend{Type: "vhostuser"}, `unknown backend type "vhostuser"`},
	}
	for _, tt := range tests {
		err := backend.Validate(tt.b)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "backend: ") {
			t.Errorf("Validate(%+v) = %v, want error containing %q", tt.b, err, tt.want)
		}
		if _, err := backend.NetdevArgs("X", tt.b, "X.fd0"); err == nil {
			t.Errorf("NetdevArgs(%+v) succeeded, want error", tt.b)
		}
		if d, err := backend.Driver(tt.b); err == nil {
			t.Errorf("Driver(%+v) = %q, want error", tt.b, d)
		}
	}
	for _, b := range []domain.Backend{{}, {Type: domain.TypeNone}} {
		if err := backend.Validate(b); !errors.Is(err, backend.ErrNoBackend) {
			t.Errorf("Validate(%+v) = %v, want ErrNoBackend", b, err)
		}
	}
}

func TestNetdevArgsFDCount(t *testing.T) {
	if _, err := backend.NetdevArgs("X", domain.Backend{Type: domain.TypeEthernet, Dev: "tap0"}); err == nil {
		t.Error("tap without fd name accepted")
	}
	if _, err := backend.NetdevArgs("X", domain.Backend{Type: domain.TypeUser}, "X.fd0"); err == nil {
		t.Error("user with fd name accepted")
	}
}
