package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationSaveNoop (issue 13): an update that QEMU already has (a
// noop plan) but whose <interface> text differs from DOMAIN.xml's (libvirt's
// type='null' for 'none') still saves DOMAIN.xml with the update; the same
// update again leaves the file byte for byte. A DOMAIN.xml that is stale
// (QEMU has another backend) never plans a noop: the link is set
// explicitly, and the file is saved.
func TestIntegrationSaveNoop(t *testing.T) {
	v := startCLIVM(t)
	sock, dom := v.q.Socket, v.domain
	null := writeTemp(t, "null.xml", []byte(`<interface type='null'>
  <mac address='52:54:00:0f:7d:ad'/>
  <model type='virtio'/>
</interface>`))
	mustRun(t, 0, "start", "--qmp", sock, dom)
	out, _ := mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, null)
	if !strings.HasPrefix(out, "plan noop cli net0: no steps") {
		t.Fatalf("type='null' on an unplugged NIC:\n%s", out)
	}
	saved := readString(t, dom)
	if !strings.Contains(saved, `<interface type="null">`) {
		t.Errorf("DOMAIN.xml after the noop update to type='null':\n%s", saved)
	}
	if _, stderr := mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, null); stderr != "" || readString(t, dom) != saved {
		t.Errorf("the same update again: stderr %q, DOMAIN.xml:\n%s", stderr, readString(t, dom))
	}

	// Stale: the file says user with its link down, QEMU has nothing.
	userDown := writeTemp(t, "user-down.xml", []byte(`<interface type='user'>
  <mac address='52:54:00:0f:7d:ad'/>
  <model type='virtio'/>
  <link state='down'/>
</interface>`))
	mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, userDown)
	mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "--save=false", "testdata/iface-none.xml")
	out, stderr := mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-none.xml")
	if !strings.HasPrefix(out, "plan link cli net0: 1 step") || !strings.Contains(stderr, "the file is stale") {
		t.Errorf("the update QEMU has, on a stale DOMAIN.xml: stderr %q\n%s", stderr, out)
	}
	if got := readString(t, dom); !strings.Contains(got, `<interface type="none">`) || strings.Contains(got, `state="down"`) {
		t.Errorf("DOMAIN.xml after the update on a stale file:\n%s", got)
	}
}

// TestIntegrationSaveNoopNetwork (issue 13): an update to another network
// that resolves to the same backend (two networks on one bridge) is a noop
// for QEMU and the host, and DOMAIN.xml is saved with the network the
// update names.
func TestIntegrationSaveNoopNetwork(t *testing.T) {
	testenv.RequireRoot(t)
	v := startCLIVM(t)
	sock, dom := v.q.Socket, v.domain
	var b [4]byte
	rand.Read(b[:])
	ns := "npi13c-" + hex.EncodeToString(b[:])
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{{"link", "add", "br0", "type", "bridge"}, {"link", "set", "br0", "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	nets := t.TempDir()
	for _, name := range []string{"lan", "lan2"} {
		def := "<network><name>" + name + "</name><forward mode='bridge'/><bridge name='br0'/></network>"
		if err := os.WriteFile(filepath.Join(nets, name+".xml"), []byte(def), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lan2 := writeTemp(t, "lan2.xml", []byte(strings.Replace(readString(t, "testdata/iface-network.xml"), "'lan'", "'lan2'", 1)))
	flags := []string{"--qmp", sock, "--domain", dom, "--netns", "/run/netns/" + ns, "--networks", nets}
	mustRun(t, 0, "start", "--qmp", sock, "--networks", nets, dom)
	mustRun(t, 0, append(append([]string{"update"}, flags...), "testdata/iface-network.xml")...)
	out, _ := mustRun(t, 0, append(append([]string{"update"}, flags...), lan2)...)
	if !strings.HasPrefix(out, "plan noop cli net0: no steps") {
		t.Fatalf("the update to another network on the same bridge:\n%s", out)
	}
	if saved := readString(t, dom); !strings.Contains(saved, `<source network="lan2"></source>`) {
		t.Errorf("DOMAIN.xml after the noop update to lan2:\n%s", saved)
	}
	mustRun(t, 0, append(append([]string{"update"}, flags...), "testdata/iface-none.xml")...)
}
