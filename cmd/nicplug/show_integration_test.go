package main

import (
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationShowLinkUnknown: before start QEMU's links are up while
// the domain wants net0 down; show says unknown and what the domain asks,
// never the file's state as QEMU's.
func TestIntegrationShowLinkUnknown(t *testing.T) {
	v := startCLIVM(t)
	st := v.show(t, true)
	if st.Running {
		t.Fatal("running before start")
	}
	for dev, configured := range map[string]string{"net0": "down", "ua-lan": "up"} {
		if r := nic(t, st, dev); r.Link != "unknown" || r.LinkConfigured != configured {
			t.Errorf("%s before start: link %q (configured %q), want unknown (configured %s)", dev, r.Link, r.LinkConfigured, configured)
		}
	}
	out, _ := mustRun(t, 0, "show", "--qmp", v.q.Socket, "--domain", v.domain)
	if !strings.Contains(out, "net0    52:54:00:0f:7d:ad  0    unknown (domain: down)") {
		t.Errorf("show text before start:\n%s", out)
	}
}

// TestIntegrationShowUnmanaged: a QEMU whose NIC was not booted with
// qemu-args shows it as not managed and why, not just "0 NICs"; a QEMU
// without NICs says so.
func TestIntegrationShowUnmanaged(t *testing.T) {
	testenv.RequireQEMU(t)
	q := testenv.StartQEMU(t, "-netdev", "user,id=u0", "-device", "virtio-net-pci,netdev=u0,id=plain,mac=52:54:00:00:00:61",
		"-device", "e1000,mac=52:54:00:00:00:62")
	out, _ := mustRun(t, 0, "show", "--qmp", q.Socket)
	for _, want := range []string{
		"vm (no domain): paused, 0 NICs managed by nicplug, 2 not\n",
		"plain (virtio-net-pci 52:54:00:00:00:61): not managed by nicplug: it is peered with u0 (user), not with a hub port of its own (np.plain.nic): it was not booted with the arguments of `nicplug qemu-args`\n",
		"(e1000 52:54:00:00:00:62): not managed by nicplug: it has no peer",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	js, _ := mustRun(t, 0, "show", "--qmp", q.Socket, "--json")
	if !strings.Contains(js, `"unmanaged": [`) || !strings.Contains(js, `"peer": "u0"`) {
		t.Errorf("show --json:\n%s", js)
	}

	empty := testenv.StartQEMU(t)
	out, _ = mustRun(t, 0, "show", "--qmp", empty.Socket)
	if want := "vm (no domain): paused, 0 NICs managed by nicplug\nDEVICE  MAC  HUB  LINK  BACKEND  DRIVER  NETDEV\nQEMU has no NIC\n"; out != want {
		t.Errorf("show of a QEMU without NICs:\n%q\nwant\n%q", out, want)
	}
}

// TestIntegrationShowXMLUnrecovered: show --xml marks a NIC whose attached
// backend it cannot rebuild (a socket here) instead of presenting
// type='none' as fact, and warns on stderr; the output still parses.
func TestIntegrationShowXMLUnrecovered(t *testing.T) {
	v := startCLIVM(t)
	sock := v.q.Socket
	mustRun(t, 0, "start", "--qmp", sock, v.domain)
	mustRun(t, 0, "update", "--qmp", sock, "--domain", v.domain, "--carrier-hold", "0", "testdata/iface-lan-udp.xml")
	code, out, stderr := runCmd(t, "show", "--qmp", sock, "--name", "cli", "--xml")
	if code != 0 {
		t.Fatalf("show --xml: exit %d: %s", code, stderr)
	}
	checkOneLine(t, stderr)
	if !strings.HasPrefix(stderr, "nicplug: show: warning: ua-lan: a backend is attached (netdev np.ua-lan.b2.") || !strings.Contains(stderr, ", socket) that could not be recovered") {
		t.Errorf("stderr: %q", stderr)
	}
	i, j := strings.Index(out, "<!-- nicplug: ua-lan: a backend is attached"), strings.Index(out, `<alias name="ua-lan">`)
	k := strings.LastIndex(out[:max(j, 0)], "<interface ")
	if i < 0 || j < 0 || k < i || strings.Count(out, "<!--") != 1 {
		t.Errorf("show --xml does not mark ua-lan's <interface>:\n%s", out)
	}
	if _, err := domain.ParseDomain([]byte(out), nil); err != nil {
		t.Errorf("show --xml output does not parse: %v\n%s", err, out)
	}
}
