package nicplug_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

// The tests in this file pin down, on whatever QEMU the tests run
// ($NICPLUG_QEMU; `make test` runs them on 7.2 and 10.0), each QEMU
// behaviour nicplug depends on that differs between versions, and that
// nicplug's mechanism does not depend on the difference.

// dialQEMU starts a guest-less QEMU with extra arguments and connects to it.
func dialQEMU(t *testing.T, extra ...string) (*qmp.Client, qmp.Version) {
	t.Helper()
	return dial(t, testenv.StartQEMU(t, extra...))
}

// dial connects to q; the connection is closed in t.Cleanup.
func dial(t *testing.T, q *testenv.QEMU) (*qmp.Client, qmp.Version) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, q.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.Version()
}

func execute(t *testing.T, c *qmp.Client, out any, cmd string, args any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	raw, err := c.Execute(ctx, cmd, args)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
}

// atLeast reports whether v is major.minor.micro or newer.
func atLeast(v qmp.Version, major, minor, micro int) bool {
	return slices.Compare([]int{v.Major, v.Minor, v.Micro}, []int{major, minor, micro}) >= 0
}

// TestIntegrationQEMURombarDefault: a NIC's rombar reads 1 (uint32) by
// default up to 8.x and -1 (int32, "auto") on 10.0; the read-back takes
// either, and LiveDomain rebuilds the same <interface> (ROM on) from both.
func TestIntegrationQEMURombarDefault(t *testing.T) {
	testenv.RequireQEMU(t)
	q, dom := startDomain(t, domainXML("rombar", iface("52:54:00:00:00:31", "none", "")))
	c, v := dial(t, q)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var bar json.Number
	execute(t, c, &bar, "qom-get", map[string]string{"path": "/machine/peripheral/net0", "property": "rombar"})
	switch {
	case !atLeast(v, 9, 0, 0) && bar != "1", atLeast(v, 10, 0, 0) && bar != "-1":
		t.Errorf("QEMU %v: default rombar %s, not what this test pins (1 before 9.0, -1 from 10.0)", v, bar)
	}
	t.Logf("QEMU %v: default rombar reads %s", v, bar)
	live, err := nicplug.LiveDomain(ctx, c, nil, "rombar")
	if err != nil {
		t.Fatalf("QEMU %v: %v", v, err)
	}
	want, _ := dom.NICs[0].XML.Marshal()
	live.NICs[0].XML.Address = nil // the slot QEMU chose; the booted XML names none
	got, _ := live.NICs[0].XML.Marshal()
	if want != got {
		t.Errorf("QEMU %v: live <interface> differs from the booted one:\nwant %s\ngot  %s", v, want, got)
	}
}

// TestIntegrationQEMUNetdevDelOfNICPeer: `netdev_del` of a netdev whose
// peer is a NIC releases the backend at once up to 9.2.2 (8.2.9) but keeps
// it, here a user network's host forward, until the NIC goes away on 10.0
// (and 9.2.3, 8.2.10). nicplug never deletes a NIC's peer (the NIC's own
// hub port); the backend it deletes sits behind a second hub port, and
// that one is released at once on every version.
func TestIntegrationQEMUNetdevDelOfNICPeer(t *testing.T) {
	testenv.RequireQEMU(t)
	direct, hubbed := freePort(t), freePort(t)
	c, v := dialQEMU(t,
		"-netdev", fmt.Sprintf("user,id=u0,hostfwd=tcp:127.0.0.1:%d-:22", direct),
		"-device", `{"driver":"virtio-net-pci","id":"net0","netdev":"u0","mac":"52:54:00:00:00:32"}`,
		"-netdev", `{"type":"hubport","id":"np.net1.nic","hubid":1}`,
		"-device", `{"driver":"virtio-net-pci","id":"net1","netdev":"np.net1.nic","mac":"52:54:00:00:00:33"}`)
	execute(t, c, nil, "netdev_add", map[string]any{"type": "user", "id": "u1", "hostfwd": []map[string]string{{"str": fmt.Sprintf("tcp:127.0.0.1:%d-:22", hubbed)}}})
	execute(t, c, nil, "netdev_add", map[string]any{"type": "hubport", "id": "u1-hp", "hubid": 1, "netdev": "u1"})
	for _, p := range []int{direct, hubbed} {
		if !listening(p) {
			t.Fatalf("QEMU %v: host forward on port %d not listening before netdev_del", v, p)
		}
	}

	execute(t, c, nil, "netdev_del", map[string]string{"id": "u0"})
	kept := atLeast(v, 10, 0, 0) || (v.Major == 9 && atLeast(v, 9, 2, 3)) || (v.Major == 8 && atLeast(v, 8, 2, 10))
	released := !atLeast(v, 8, 2, 10) || (v.Major == 9 && !atLeast(v, 9, 2, 3))
	got := listening(direct)
	t.Logf("QEMU %v: after netdev_del of the NIC's direct peer its host forward is listening=%v", v, got)
	switch {
	case kept && !got:
		t.Errorf("QEMU %v: the NIC's deleted peer was released; this version should keep it until the NIC goes away", v)
	case released && got:
		t.Errorf("QEMU %v: the NIC's deleted peer is still listening; this version should release it", v)
	}
	var text string
	execute(t, c, &text, "human-monitor-command", map[string]string{"command-line": "info network"})
	ni, err := backend.ParseInfoNetwork(text)
	if err != nil {
		t.Fatal(err)
	}
	if nic, ok := ni.Client("net0"); !ok || nic.Peer == nil || nic.Peer.Name != "u0" {
		t.Errorf("QEMU %v: info network no longer shows net0 peered with u0 (every version keeps the NIC's dangling peer):\n%s", v, text)
	}

	// nicplug's path: hub port out, then backend: released at once.
	execute(t, c, nil, "netdev_del", map[string]string{"id": "u1-hp"})
	execute(t, c, nil, "netdev_del", map[string]string{"id": "u1"})
	if listening(hubbed) {
		t.Errorf("QEMU %v: a backend deleted behind a hub port is still listening", v)
	}
	execute(t, c, nil, "netdev_add", map[string]any{"type": "user", "id": "u1"})
}

// TestIntegrationQEMUHubOffloads: the virtio-net features a hub-peered NIC
// offers are the same whether nicplug's arguments turn the offloads off
// explicitly (as [domain.Domain.QEMUArgsFor] does) or QEMU clears them for
// a peer without vnet_hdr (as before): compared with x-query-virtio-status
// on the QEMU under test. The guest-side check is in e2e.
func TestIntegrationQEMUHubOffloads(t *testing.T) {
	testenv.RequireQEMU(t)
	dom, err := domain.ParseDomain(domainXML("offloads", iface("52:54:00:00:00:34", "none", "")), nil)
	if err != nil {
		t.Fatal(err)
	}
	args := testenv.QEMUArgs(t, dom)
	c, v := dialQEMU(t, append(args,
		"-netdev", `{"type":"hubport","id":"plain","hubid":9}`,
		"-device", `{"driver":"virtio-net-pci","id":"plain0","netdev":"plain","mac":"52:54:00:00:00:35"}`)...)
	features := func(dev string) []string {
		var st struct {
			HostFeatures struct {
				DevFeatures []string `json:"dev-features"`
				Transports  []string `json:"transports"`
				Unknown     uint64   `json:"unknown-dev-features"`
			} `json:"host-features"`
		}
		execute(t, c, &st, "x-query-virtio-status", map[string]string{"path": "/machine/peripheral/" + dev + "/virtio-backend"})
		f := append(st.HostFeatures.DevFeatures, st.HostFeatures.Transports...)
		return append(f, fmt.Sprintf("unknown=%#x", st.HostFeatures.Unknown))
	}
	explicit, implicit := features("net0"), features("plain0")
	if !slices.Equal(explicit, implicit) {
		t.Errorf("QEMU %v: hub NIC features differ:\nexplicit offloads off: %v\ncleared by QEMU:       %v", v, explicit, implicit)
	}
	for _, f := range explicit {
		for _, off := range []string{"VIRTIO_NET_F_CSUM", "VIRTIO_NET_F_GUEST_CSUM", "VIRTIO_NET_F_HOST_TSO4", "VIRTIO_NET_F_GUEST_TSO4", "VIRTIO_NET_F_HOST_USO"} {
			if len(f) > len(off) && f[:len(off)+1] == off+":" {
				t.Errorf("QEMU %v: hub NIC offers %s", v, f)
			}
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// listening reports whether something accepts TCP connections on port.
func listening(port int) bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
