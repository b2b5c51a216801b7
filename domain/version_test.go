package domain_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
)

func TestParseQEMUVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want domain.QEMUVersion
	}{
		{"7.2", domain.QEMUVersion{7, 2, 0}},
		{"10.0.2", domain.QEMUVersion{10, 0, 2}},
		{"QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\nCopyright …", domain.QEMUVersion{10, 0, 2}},
		{"QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)", domain.QEMUVersion{7, 2, 22}},
	} {
		got, err := domain.ParseQEMUVersion(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseQEMUVersion(%q): want %v, got %v, %v", tc.in, tc.want, got, err)
		}
	}
	for _, bad := range []string{"", "10", "ten.0", "1.2.3.4", "-1.0", strings.Repeat("9", 100) + ".0"} {
		_, err := domain.ParseQEMUVersion(bad)
		if err == nil || !strings.HasPrefix(err.Error(), "domain: QEMU version") || len(err.Error()) > 120 {
			t.Errorf("ParseQEMUVersion(%q): want a short error, got %v", bad, err)
		}
	}
	v := domain.QEMUVersion{8, 1, 0}
	if !v.AtLeast(8, 1) || !v.AtLeast(7, 9) || v.AtLeast(8, 2) || v.AtLeast(9, 0) {
		t.Errorf("AtLeast wrong for %v", v)
	}
	if (domain.QEMUVersion{}).String() != "unknown" || v.String() != "8.1.0" {
		t.Errorf("String: %q %q", domain.QEMUVersion{}.String(), v.String())
	}
}

// TestQEMUArgsForOffloads pins the offload properties of a hub-peered
// NIC per QEMU version: USO exists since 8.1, so it is named only there;
// models other than virtio-net get none.
func TestQEMUArgsForOffloads(t *testing.T) {
	d, err := domain.ParseDomain([]byte(`<domain type='qemu'><name>vm</name><devices>
  <interface type='none'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>
  <interface type='none'><mac address='52:54:00:00:00:02'/><model type='e1000'/></interface>
</devices></domain>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v       domain.QEMUVersion
		wantUSO bool
	}{{domain.QEMUVersion{}, false}, {domain.QEMUVersion{7, 2, 22}, false}, {domain.QEMUVersion{8, 0, 5}, false},
		{domain.QEMUVersion{8, 1, 0}, true}, {domain.QEMUVersion{10, 0, 2}, true}} {
		args, err := d.QEMUArgsFor(&domain.ArgsOptions{QEMU: tc.v})
		if err != nil {
			t.Fatal(err)
		}
		virtio, e1000 := args[3], args[7]
		for _, p := range []string{"csum", "guest_csum", "guest_tso4", "guest_tso6", "guest_ecn", "guest_ufo", "host_tso4", "host_tso6", "host_ecn", "host_ufo"} {
			if !strings.Contains(virtio, `"`+p+`":false`) {
				t.Errorf("QEMU %v: virtio NIC lacks %s off: %s", tc.v, p, virtio)
			}
		}
		for _, p := range []string{"guest_uso4", "guest_uso6", "host_uso"} {
			if got := strings.Contains(virtio, `"`+p+`":false`); got != tc.wantUSO {
				t.Errorf("QEMU %v: %s off: want %v, got %v", tc.v, p, tc.wantUSO, got)
			}
		}
		if strings.Contains(e1000, "csum") {
			t.Errorf("QEMU %v: e1000 got offload properties: %s", tc.v, e1000)
		}
	}
}

// QEMUArgsFor a QEMU of 8.1 or newer also turns the NIC's USO offloads
// off.
func ExampleDomain_QEMUArgsFor() {
	d, err := domain.ParseDomain([]byte(`<domain type='qemu'><name>vm</name><devices>
  <interface type='none'><mac address='52:54:00:0f:7d:ad'/><model type='virtio'/></interface>
</devices></domain>`), nil)
	if err != nil {
		panic(err)
	}
	v, err := domain.ParseQEMUVersion("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)")
	if err != nil {
		panic(err)
	}
	args, err := d.QEMUArgsFor(&domain.ArgsOptions{QEMU: v})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Contains(args[3], `"host_uso":false`))
	// Output: true
}
