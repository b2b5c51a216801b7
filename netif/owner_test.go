package netif

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOwnerRoundTrip(t *testing.T) {
	tests := []Owner{
		{"vm1", "net0"},
		{"web server", "52:54:00:0f:7d:ad"},
		{"débian", "ua-net.1"},
		{strings.Repeat("v", 100), strings.Repeat("n", 100)},
	}
	for _, want := range tests {
		if err := want.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", want, err)
		}
		got, ok := ParseOwner(want.String())
		if !ok {
			t.Errorf("ParseOwner(%q) not ok", want.String())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestParseOwnerRejects(t *testing.T) {
	for _, alias := range []string{
		"",
		"nicplug:",
		"nicplug:vm",
		"nicplug:/net0",
		"nicplug:vm/",
		"nicplug:vm/net/0",
		"libvirt:vm/net0",
		"Nicplug:vm/net0",
		"nicplug:vm/net\x00",
		"nicplug:vm\t/net0",
		"nicplug:vm/\xff",
		"nicplug:" + strings.Repeat("v", 250) + "/n",
	} {
		if o, ok := ParseOwner(alias); ok {
			t.Errorf("ParseOwner(%q) = %+v, ok; want not ok", alias, o)
		}
	}
}

func TestOwnerValidate(t *testing.T) {
	tests := []struct {
		owner Owner
		want  string
	}{
		{Owner{"", "net0"}, "owner VM is empty"},
		{Owner{"vm", ""}, "owner NIC is empty"},
		{Owner{"a/b", "net0"}, `owner VM "a/b" contains '/'`},
		{Owner{"vm", "n\n"}, "non-printable"},
		{Owner{"vm", "\xfe"}, "not valid UTF-8"},
		{Owner{strings.Repeat("x", 300), "n"}, "owner tag is 310 bytes, the kernel keeps at most 255"},
	}
	for _, tt := range tests {
		err := tt.owner.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("Validate(%q): %v, want an os.ErrInvalid containing %q", tt.owner, err, tt.want)
		}
	}
}
