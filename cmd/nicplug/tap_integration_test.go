package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/internal/testenv"
)

// tapNetns is a fresh network namespace with bridges br0 and br1.
func tapNetns(t *testing.T) (name, path string) {
	t.Helper()
	testenv.RequireRoot(t)
	var b [4]byte
	rand.Read(b[:])
	name = "npclitap-" + hex.EncodeToString(b[:])
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	for _, br := range []string{"br0", "br1"} {
		ip("-n", name, "link", "add", br, "type", "bridge")
		ip("-n", name, "link", "set", br, "up")
	}
	return name, "/run/netns/" + name
}

// writeFile writes s to a file in dir and returns its path.
func writeFile(t *testing.T, dir, name, s string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const tapIfaceFmt = `<interface type='%s'><mac address='52:54:00:0f:7d:ad'/>%s<model type='virtio'/><driver queues='2'/></interface>`

// TestIntegrationCLITapDatapath follows the README's flow for a NIC on the
// tap datapath: qemu-args creates the fixed tap (again: no change), QEMU
// opens it by name, start, update moves it between bridges live, show
// reports the datapath, a backend inside QEMU is refused, and cleanup
// deletes the tap once QEMU has exited.
func TestIntegrationCLITapDatapath(t *testing.T) {
	nsName, ns := tapNetns(t)
	dir := t.TempDir()
	vm := "clitap" + nsName[len(nsName)-4:]
	dom := writeFile(t, dir, "domain.xml", fmt.Sprintf(`<domain type='qemu'><name>%s</name><os><type machine='q35'>hvm</type></os><devices>%s</devices></domain>`,
		vm, fmt.Sprintf(tapIfaceFmt, "none", "")))
	tap := backend.TapName(vm, "net0")

	out, _ := mustRun(t, 0, "qemu-args", "--netns", ns, dom)
	if again, _ := mustRun(t, 0, "qemu-args", "--netns", ns, dom); again != out {
		t.Errorf("qemu-args again printed\n%s\nwas\n%s", again, out)
	}
	if !strings.Contains(out, `"ifname":"`+tap+`"`) || !strings.Contains(out, `"queues":2`) || !strings.Contains(out, `"mq":true`) {
		t.Errorf("qemu-args:\n%s\nwant the tap %s by name, 2 queues, mq", out, tap)
	}
	host := backend.NewNetifHost(ns)
	ctx := t.Context()
	if p, err := host.TapPlug(ctx, tap); err != nil || p.Master != "" || p.Redirect != "" {
		t.Fatalf("after qemu-args: tap %s plugged into %+v, %v; want nothing", tap, p, err)
	}

	q := testenv.StartQEMUNetns(t, nsName, strings.Split(strings.TrimSuffix(out, "\n"), "\n")...)
	sock := q.Socket
	mustRun(t, 0, "start", "--qmp", sock, "--netns", ns, dom)
	for _, br := range []string{"br0", "br1"} {
		upd := writeFile(t, dir, br+".xml", fmt.Sprintf(tapIfaceFmt, "bridge", "<source bridge='"+br+"'/>"))
		out, _ := mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "--netns", ns, "--carrier-hold", "0", upd)
		if !strings.Contains(out, "set-master "+tap+" master="+br) {
			t.Errorf("update to %s printed:\n%s", br, out)
		}
		if p, err := host.TapPlug(ctx, tap); err != nil || p.Master != br {
			t.Errorf("after update to %s: tap plugged into %+v, %v", br, p, err)
		}
	}
	show, _ := mustRun(t, 0, "show", "--qmp", sock, "--domain", dom, "--netns", ns)
	if want := fmt.Sprintf("net0: tap datapath, fixed tap %s plugged into bridge br1\n", tap); !strings.Contains(show, want) {
		t.Errorf("show:\n%s\nwant a line %q", show, want)
	}
	if r := nic(t, showJSON(t, sock, dom, ns), "net0"); r.Datapath != "tap" || r.Backend != "bridge(br1)" || r.Tap != tap || r.Netdev != "np.net0.tap" {
		t.Errorf("show --json: %+v", r)
	}

	// Without the domain: the same, from QEMU and the host (the VM named).
	live, _ := mustRun(t, 0, "show", "--qmp", sock, "--netns", ns, "--name", vm)
	if want := fmt.Sprintf("net0: tap datapath, fixed tap %s plugged into bridge br1\n", tap); !strings.Contains(live, want) {
		t.Errorf("show without --domain:\n%s\nwant a line %q", live, want)
	}

	user := writeFile(t, dir, "user.xml", fmt.Sprintf(tapIfaceFmt, "user", ""))
	_, stderr := mustRun(t, exitUsage, "update", "--qmp", sock, "--domain", dom, "--netns", ns, user)
	if !strings.Contains(stderr, "interface 52:54:00:0f:7d:ad: type user lives inside QEMU") || !strings.Contains(stderr, "hub datapath") {
		t.Errorf("user on the tap datapath: %s", stderr)
	}
	if p, err := host.TapPlug(ctx, tap); err != nil || p.Master != "br1" {
		t.Errorf("after the refused update: tap plugged into %+v, %v; want br1 still", p, err)
	}

	q.Kill()
	out, _ = mustRun(t, 0, "cleanup", "--netns", ns, dom)
	if out != "deleted "+tap+"\n" {
		t.Errorf("cleanup printed %q", out)
	}
	if links, err := host.ListOwned(ctx, vm); err != nil || len(links) != 0 {
		t.Errorf("after cleanup: %v, %v", links, err)
	}
}

// showJSON runs show --json with a domain and a netns.
func showJSON(t *testing.T, sock, dom, ns string) showOutput {
	t.Helper()
	out, _ := mustRun(t, 0, "show", "--qmp", sock, "--domain", dom, "--netns", ns, "--json")
	var so showOutput
	if err := jsonUnmarshal(out, &so); err != nil {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	return so
}

// TestCLIVhostMissing: a NIC asking for vhost-net on a host without
// /dev/vhost-net is refused by qemu-args (exit 2) before anything is
// created, as libvirt refuses it.
func TestCLIVhostMissing(t *testing.T) {
	if _, err := os.Stat(nicplug.VhostNetDevice); err == nil {
		t.Logf("%s exists here: qemu-args must accept the NIC", nicplug.VhostNetDevice)
	}
	_, ns := tapNetns(t)
	dom := writeFile(t, t.TempDir(), "domain.xml", `<domain type='qemu'><name>vh</name><devices><interface type='none'><mac address='52:54:00:0f:7d:ad'/><model type='virtio'/><driver name='vhost'/></interface></devices></domain>`)
	if _, err := os.Stat(nicplug.VhostNetDevice); err == nil {
		out, _ := mustRun(t, 0, "qemu-args", "--netns", ns, dom)
		if !strings.Contains(out, `"vhost":true`) {
			t.Errorf("qemu-args:\n%s", out)
		}
		mustRun(t, 0, "cleanup", "--netns", ns, dom)
		return
	}
	_, stderr := mustRun(t, exitUsage, "qemu-args", "--netns", ns, dom)
	if !strings.Contains(stderr, "NIC net0 asks for vhost-net") || !strings.Contains(stderr, nicplug.VhostNetDevice) {
		t.Errorf("stderr: %s", stderr)
	}
	if links, err := backend.NewNetifHost(ns).ListOwned(t.Context(), "vh"); err != nil || len(links) != 0 {
		t.Errorf("left behind: %v, %v", links, err)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
