package nicplug

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// propMon answers qom-get with the raw JSON of props by property name.
type propMon map[string]string

func (m propMon) Execute(_ context.Context, cmd string, args any, _ ...*os.File) (json.RawMessage, error) {
	var a struct {
		Property string `json:"property"`
	}
	b, _ := json.Marshal(args)
	_ = json.Unmarshal(b, &a)
	if v, ok := m[a.Property]; ok && cmd == "qom-get" {
		return json.RawMessage(v), nil
	}
	return nil, errors.New("unexpected " + cmd + " " + string(b))
}

// TestReadDeviceAnyIntegerType pins the read-back of properties whose
// type and default changed between QEMU versions: rombar reads 1 (uint32)
// by default on 7.2 and -1 (int32, "auto") on 10.0; both mean on.
func TestReadDeviceAnyIntegerType(t *testing.T) {
	base := func(rombar string) propMon {
		return propMon{"multifunction": "false", "bootindex": "-1", "rombar": rombar, "romfile": `"efi-virtio.rom"`, "host_mtu": "0"}
	}
	for _, tc := range []struct {
		name, rombar string
		want         int
	}{
		{"QEMU 7.2 default", "1", 1},
		{"QEMU 10.0 default", "-1", -1},
		{"off", "0", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev, err := readDevice(t.Context(), base(tc.rombar), &NICState{Device: "net0", MAC: "52:54:00:00:00:01"}, "virtio-net-pci")
			if err != nil {
				t.Fatal(err)
			}
			if dev.ROMBar != tc.want {
				t.Errorf("ROMBar: want %d, got %d", tc.want, dev.ROMBar)
			}
			dom, err := domain.FromDevices("vm", "", []domain.Device{dev})
			if err != nil {
				t.Fatal(err)
			}
			x, err := dom.NICs[0].XML.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if want, got := tc.want == 0, strings.Contains(x, `bar="off"`); want != got {
				t.Errorf("rom bar off in XML: want %v, got %v:\n%s", want, got, x)
			}
		})
	}
	for _, bad := range []string{`"1"`, `1.5`, `true`, `-5000000000000000000000`} {
		_, err := readDevice(t.Context(), base(bad), &NICState{Device: "net0"}, "virtio-net-pci")
		if !errors.Is(err, qmp.ErrMalformedReply) || !strings.HasPrefix(err.Error(), "nicplug: read back: qmp: qom-get: malformed reply from the monitor: ") {
			t.Errorf("rombar %s: want a read-back error of a malformed reply, got %v", bad, err)
		}
	}
	m := base("1")
	m["host_mtu"] = "-1"
	if _, err := readDevice(t.Context(), m, &NICState{Device: "net0"}, "virtio-net-pci"); err == nil {
		t.Error("negative host_mtu: no error")
	}
}
