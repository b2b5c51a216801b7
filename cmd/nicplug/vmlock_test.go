package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/internal/testenv"
)

// testNetns creates a fresh network namespace named npi13b-<random> with
// a veth pair (veth0, veth1 up, the macvtap parents), deleted in
// t.Cleanup, and returns its path.
func testNetns(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	var b [4]byte
	rand.Read(b[:])
	name := "npi13b-" + hex.EncodeToString(b[:])
	ip(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "veth0", "type", "veth", "peer", "name", "veth1"},
		{"link", "set", "veth0", "up"},
		{"link", "set", "veth1", "up"},
	} {
		ip(t, append([]string{"-n", name}, args...)...)
	}
	return "/run/netns/" + name
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestIntegrationLockRefuses checks that a command on a VM whose lock
// another command holds waits for it within --timeout and then fails
// with a message naming the holder, changing nothing; and that it goes
// ahead once the lock is released.
func TestIntegrationLockRefuses(t *testing.T) {
	v := startCLIVM(t)
	sock := v.q.Socket
	l, err := lockVM(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	info := v.infoNetwork(t)
	_, stderr := mustRun(t, 1, "start", "--qmp", sock, "--timeout", "300ms", v.domain)
	for _, want := range []string{"nicplug: start: another nicplug command (pid ", "is working on this VM and holds " + lockPath(sock), "(raise --timeout)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if got := v.infoNetwork(t); got != info {
		t.Errorf("a refused command changed QEMU:\n%s\nwas:\n%s", got, info)
	}
	// A command waiting for the lock goes ahead once it is released.
	done := make(chan string)
	go func() {
		code, _, stderr := runCmd(t, "start", "--qmp", sock, "--timeout", "60s", v.domain)
		if code != 0 {
			done <- stderr
		}
		close(done)
	}()
	time.Sleep(200 * time.Millisecond)
	l.unlock()
	if stderr, failed := <-done; failed {
		t.Fatalf("start after unlock: %s", stderr)
	}
	if out := v.show(t, true); !out.Running {
		t.Errorf("not started: %+v", out)
	}
}

// TestIntegrationConcurrentUpdates runs updates of one NIC to different
// macvtaps from concurrent commands: they run one after the other, and
// the end state is one of them with exactly one macvtap left on the host
// and a domain file that says so.
func TestIntegrationConcurrentUpdates(t *testing.T) {
	v := startCLIVM(t)
	ns := testNetns(t)
	ip(t, "-n", ns[len("/run/netns/"):], "link", "add", "veth2", "type", "veth", "peer", "name", "veth3")
	ip(t, "-n", ns[len("/run/netns/"):], "link", "set", "veth2", "up")
	dir := t.TempDir()
	ifaces := []string{writeIface(t, dir, "a.xml", directIface("veth0")), writeIface(t, dir, "b.xml", directIface("veth2"))}
	mustRun(t, 0, "start", "--qmp", v.q.Socket, v.domain)
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make(chan string, len(ifaces))
		for _, f := range ifaces {
			wg.Go(func() {
				code, _, stderr := runCmd(t, "update", "--qmp", v.q.Socket, "--netns", ns, "--carrier-hold", "300ms",
					"--timeout", "60s", "--domain", v.domain, f)
				if code != 0 {
					errs <- stderr
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("round %d: concurrent update: %s", round, e)
		}
		links := ownedLinks(t, ns, "cli")
		if len(links) != 1 {
			t.Fatalf("round %d: owned links %v, want one", round, links)
		}
		dom := readString(t, v.domain)
		parent := links[0].Parent
		if !strings.Contains(dom, "<source dev=\""+parent+"\"") && !strings.Contains(dom, "<source dev='"+parent+"'") {
			t.Errorf("round %d: macvtap on %s but the domain file says:\n%s", round, parent, dom)
		}
	}
	mustRun(t, 0, "update", "--qmp", v.q.Socket, "--netns", ns, "--domain", v.domain, "testdata/iface-none.xml")
	if links := ownedLinks(t, ns, "cli"); len(links) != 0 {
		t.Errorf("after unplug: %v", links)
	}
}

// directIface is net0 of testdata/domain.xml on a macvtap of parent.
func directIface(parent string) string {
	return `<interface type='direct'>
  <mac address='52:54:00:0f:7d:ad'/>
  <source dev='` + parent + `' mode='bridge'/>
  <model type='virtio'/>
</interface>
`
}

func writeIface(t *testing.T, dir, name, xml string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ownedLinks lists the links nicplug created for VM vm in netns.
func ownedLinks(t *testing.T, netns, vm string) []backend.OwnedLink {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	links, err := backend.NewNetifHost(netns).ListOwned(ctx, vm)
	if err != nil {
		t.Fatal(err)
	}
	return links
}
