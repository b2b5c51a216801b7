package domain_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
)

// rawQMP is a minimal QMP exchange for this test: one command at a time,
// events skipped. (The qmp package is the real client; this keeps the
// domain tests independent of it.)
type rawQMP struct {
	conn net.Conn
	r    *bufio.Reader
	id   int
}

func dialQMP(t *testing.T, sock string) *rawQMP {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	q := &rawQMP{conn: c, r: bufio.NewReader(c)}
	if _, err := q.read(t); err != nil { // greeting
		t.Fatal(err)
	}
	q.do(t, "qmp_capabilities", nil)
	return q
}

func (q *rawQMP) read(t *testing.T) (map[string]json.RawMessage, error) {
	q.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	line, err := q.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(line, &m)
}

// do runs cmd and decodes its return value into a generic value.
func (q *rawQMP) do(t *testing.T, cmd string, args any) any {
	t.Helper()
	q.id++
	id := fmt.Sprintf("t%d", q.id)
	req, _ := json.Marshal(map[string]any{"execute": cmd, "arguments": args, "id": id})
	if args == nil {
		req, _ = json.Marshal(map[string]any{"execute": cmd, "id": id})
	}
	q.conn.SetWriteDeadline(time.Now().Add(60 * time.Second))
	if _, err := q.conn.Write(append(req, '\n')); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := q.read(t)
		if err != nil {
			t.Fatalf("qmp %s: %v", cmd, err)
		}
		if _, ev := m["event"]; ev {
			continue
		}
		if e, ok := m["error"]; ok {
			t.Fatalf("qmp %s: %s", cmd, e)
		}
		var got string
		json.Unmarshal(m["id"], &got)
		if got != id {
			t.Fatalf("qmp %s: reply id %q, want %q", cmd, got, id)
		}
		var v any
		if err := json.Unmarshal(m["return"], &v); err != nil {
			t.Fatalf("qmp %s: %v", cmd, err)
		}
		return v
	}
}

// TestIntegrationQEMUArgs boots a real QEMU with the arguments of a domain
// with three NICs of different models and checks, over QMP, that each NIC
// exists with its MAC and PCI address, is peered with its own hub port, and
// that `info network` shows one hub per NIC holding only that port.
func TestIntegrationQEMUArgs(t *testing.T) {
	testenv.RequireQEMU(t)
	d, err := domain.ParseDomain([]byte(`<domain type='kvm'><name>it</name><os><type machine='q35'>hvm</type></os><devices>
  <interface type='none'><mac address='52:54:00:12:34:01'/><model type='virtio'/><alias name='lan'/><boot order='1'/></interface>
  <interface type='user'><mac address='52:54:00:12:34:02'/><model type='e1000'/><rom bar='off'/></interface>
  <interface type='null'><mac address='52:54:00:12:34:03'/><model type='rtl8139'/><address type='pci' domain='0' bus='0' slot='0x06' function='0'/></interface>
</devices></domain>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	args, err := d.QEMUArgs()
	if err != nil {
		t.Fatal(err)
	}
	vm := testenv.StartQEMU(t, args...)
	q := dialQMP(t, vm.Socket)

	list := q.do(t, "qom-list", map[string]any{"path": "/machine/peripheral"}).([]any)
	present := map[string]bool{}
	for _, e := range list {
		present[e.(map[string]any)["name"].(string)] = true
	}
	for _, n := range d.NICs {
		if !present[n.DeviceID()] {
			t.Errorf("device %s missing from /machine/peripheral (%v)", n.DeviceID(), present)
			continue
		}
		path := "/machine/peripheral/" + n.DeviceID()
		if want, got := n.HubPortID(), q.do(t, "qom-get", map[string]any{"path": path, "property": "netdev"}); want != got {
			t.Errorf("%s netdev: want %q, got %v", n.DeviceID(), want, got)
		}
		if want, got := n.MAC(), q.do(t, "qom-get", map[string]any{"path": path, "property": "mac"}); want != got {
			t.Errorf("%s mac: want %q, got %v", n.DeviceID(), want, got)
		}
		if want, got := n.QEMUModel(), q.do(t, "qom-get", map[string]any{"path": path, "property": "type"}); want != got {
			t.Errorf("%s type: want %q, got %v", n.DeviceID(), want, got)
		}
	}
	if want, got := float64(6<<3), q.do(t, "qom-get", map[string]any{"path": "/machine/peripheral/net2", "property": "addr"}); want != got {
		t.Errorf("net2 addr: want %v, got %v", want, got)
	}
	if want, got := float64(0), q.do(t, "qom-get", map[string]any{"path": "/machine/peripheral/net1", "property": "rombar"}); want != got {
		t.Errorf("net1 rombar: want %v, got %v", want, got)
	}

	info := q.do(t, "human-monitor-command", map[string]any{"command-line": "info network"}).(string)
	hubs := parseHubs(info)
	if want, got := len(d.NICs), len(hubs); want != got {
		t.Fatalf("info network shows %d hubs, want %d:\n%s", got, want, info)
	}
	for _, n := range d.NICs {
		ports := hubs[n.HubID()]
		if len(ports) != 1 || !strings.HasPrefix(ports[0], n.HubPortID()+": "+n.DeviceID()+":") {
			t.Errorf("hub %d ports %q, want only %s peered with %s\n%s", n.HubID(), ports, n.HubPortID(), n.DeviceID(), info)
		}
	}
}

// parseHubs reads `info network` output ("hub N" lines, each followed by
// " \ port: peer: …" lines) into hub id → port lines.
func parseHubs(info string) map[int][]string {
	hubs := map[int][]string{}
	cur := -1
	for _, line := range strings.Split(strings.ReplaceAll(info, "\r", ""), "\n") {
		var id int
		if _, err := fmt.Sscanf(line, "hub %d", &id); err == nil && strings.HasPrefix(line, "hub ") {
			cur = id
			hubs[cur] = nil
			continue
		}
		if cur >= 0 && strings.HasPrefix(line, " \\ ") {
			hubs[cur] = append(hubs[cur], strings.TrimPrefix(line, " \\ "))
		}
	}
	return hubs
}
