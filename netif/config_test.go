package netif

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

func TestParseMacvtapMode(t *testing.T) {
	tests := []struct {
		in   string
		want MacvtapMode
		str  string
	}{
		{"", MacvtapVEPA, "vepa"},
		{"vepa", MacvtapVEPA, "vepa"},
		{"bridge", MacvtapBridge, "bridge"},
		{"private", MacvtapPrivate, "private"},
		{"passthrough", MacvtapPassthru, "passthrough"},
		{"passthru", MacvtapPassthru, "passthrough"},
	}
	for _, tt := range tests {
		got, err := ParseMacvtapMode(tt.in)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseMacvtapMode(%q) = %v (%q), %v; want %v (%q)", tt.in, got, got.String(), err, tt.want, tt.str)
		}
	}
	_, err := ParseMacvtapMode("source")
	if want := `netif: parse macvtap mode: unknown macvtap mode "source"`; err == nil || err.Error() != want || !errors.Is(err, os.ErrInvalid) {
		t.Errorf("ParseMacvtapMode(source): %v, want %q matching os.ErrInvalid", err, want)
	}
	if want, got := "MacvtapMode(7)", MacvtapMode(7).String(); want != got {
		t.Errorf("String of an unknown mode = %q, want %q", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0, 1, 2, 3}
	owner := Owner{"vm", "net0"}
	tests := []struct {
		name string
		cfg  interface{ validate() error }
		want string // "" = valid
	}{
		{"good macvtap", &MacvtapConfig{Parent: "eth0", MAC: mac, Owner: owner}, ""},
		{"named macvtap", &MacvtapConfig{Parent: "eth0", MAC: mac, Owner: owner, Name: "npmvt-0123456789"[:15]}, ""},
		{"nil macvtap", (*MacvtapConfig)(nil), "nil config"},
		{"no parent", &MacvtapConfig{MAC: mac, Owner: owner}, "parent is missing"},
		{"long parent", &MacvtapConfig{Parent: strings.Repeat("e", 16), MAC: mac, Owner: owner}, "longer than 15"},
		{"long name", &MacvtapConfig{Parent: "eth0", MAC: mac, Owner: owner, Name: strings.Repeat("n", 16)}, `macvtap name "nnnnnnnnnnnnnnnn" is 16 bytes, longer than 15`},
		{"dot name", &MacvtapConfig{Parent: "eth0", MAC: mac, Owner: owner, Name: ".."}, "not allowed"},
		{"colon name", &MacvtapConfig{Parent: "eth0", MAC: mac, Owner: owner, Name: "a:b"}, "contains"},
		{"bad mode", &MacvtapConfig{Parent: "eth0", MAC: mac, Owner: owner, Mode: 9}, "unknown macvtap mode 9"},
		{"no MAC", &MacvtapConfig{Parent: "eth0", Owner: owner}, "MAC is missing"},
		{"EUI-64", &MacvtapConfig{Parent: "eth0", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0, 0, 1}, Owner: owner}, "not 6"},
		{"broadcast MAC", &MacvtapConfig{Parent: "eth0", MAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Owner: owner}, "multicast"},
		{"no owner", &MacvtapConfig{Parent: "eth0", MAC: mac}, "bad owner: owner VM is empty"},
		{"good tap", &BridgeTapConfig{Bridge: "br0", Owner: owner}, ""},
		{"tap with MAC", &BridgeTapConfig{Bridge: "br0", Owner: owner, MAC: mac}, ""},
		{"nil tap", (*BridgeTapConfig)(nil), "nil config"},
		{"no bridge", &BridgeTapConfig{Owner: owner}, "bridge is missing"},
		{"tap bad MAC", &BridgeTapConfig{Bridge: "br0", Owner: owner, MAC: net.HardwareAddr{1, 0, 0, 0, 0, 0}}, "multicast"},
		{"tap long name", &BridgeTapConfig{Bridge: "br0", Owner: owner, Name: strings.Repeat("t", 16)}, "longer than 15"},
		{"tap no owner", &BridgeTapConfig{Bridge: "br0"}, "owner VM is empty"},
	}
	for _, tt := range tests {
		err := tt.cfg.validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want valid", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, os.ErrInvalid)):
			t.Errorf("%s: %v, want an os.ErrInvalid containing %q", tt.name, err, tt.want)
		}
	}
}

func TestOpenOptionsQueues(t *testing.T) {
	tests := []struct {
		opts *OpenOptions
		want string
	}{
		{nil, "1 <nil>"},
		{&OpenOptions{}, "1 <nil>"},
		{&OpenOptions{Queues: 8}, "8 <nil>"},
		{&OpenOptions{Queues: 256}, "256 <nil>"},
		{&OpenOptions{Queues: 257}, "0 queues 257 out of range 1..256"},
		{&OpenOptions{Queues: -1}, "0 queues -1 out of range 1..256"},
	}
	for _, tt := range tests {
		n, err := tt.opts.queues()
		if got := fmt.Sprint(n, " ", err); got != tt.want {
			t.Errorf("queues(%+v) = %s, want %s", tt.opts, got, tt.want)
		}
	}
}

func TestTapMAC(t *testing.T) {
	want, got := "fe:54:00:0f:7d:ad", TapMAC(net.HardwareAddr{0x52, 0x54, 0, 0x0f, 0x7d, 0xad}).String()
	if want != got {
		t.Errorf("TapMAC = %s, want %s", got, want)
	}
}

func TestOpError(t *testing.T) {
	if err := newOpError("open", "x", nil); err != nil {
		t.Errorf("newOpError(nil) = %v, want nil", err)
	}
	cause := notFoundf("parent %q not found", "eth9")
	err := newOpError("create macvtap", "npmvt1", cause)
	if want, got := `netif: create macvtap npmvt1: parent "eth9" not found`, err.Error(); want != got {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var oe *OpError
	if !errors.As(err, &oe) || oe.Op != "create macvtap" || oe.Link != "npmvt1" {
		t.Errorf("errors.As: %+v", oe)
	}
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrInvalid) {
		t.Error("want os.ErrNotExist only")
	}
	if want, got := "netif: list: boom", newOpError("list", "", errors.New("boom")).Error(); want != got {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
