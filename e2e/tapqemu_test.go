package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/testenv"
)

// nobody is the unprivileged user QEMU runs as in these tests.
const nobody = 65534

// TestIntegrationTapUnprivilegedFDs starts QEMU as nobody, with no
// capabilities, and gives it the fixed tap's two queues as inherited fds
// (nicplug.Taps.Files, the documented way for an unprivileged QEMU): the
// NIC is plugged into a bridge and moved to a direct backend, and the
// guest pings each router.
func TestIntegrationTapUnprivilegedFDs(t *testing.T) {
	l := newTapLANs(t)
	testenv.RequireQEMUAs(t, nobody, nobody)
	r := bootWith(t, bootOpts{nic: tapNoneXML, cfg: &nicplug.Config{Netns: l.host, CarrierHold: carrierHold},
		tapNetns: l.host, cpus: 2, runAs: &guest.RunAs{UID: nobody, GID: nobody}})
	testenv.CheckRunsAs(t, r.g.Pid(), nobody, nobody, true)
	fds := tapFDs(t, r.g.Pid())
	if len(fds) != 2 {
		t.Errorf("QEMU holds %d fds of /dev/net/tun, want the 2 queues: %q", len(fds), fds)
	}
	r.plug("unprivileged QEMU, fds: plug bridge", tapBridgeXML(l.br1.Bridge), l.br1.Subnet)
	r.checkTap(l, bridgeTo(l.br1.Bridge))
	r.plug("unprivileged QEMU, fds: move to direct", tapDirectXML(l.direct.Parent), l.direct.Subnet)
	r.checkTap(l, directTo(l.direct.Parent))
	r.checkOnly("unprivileged QEMU, fds: on direct", l.all, l.direct)
}

// TestIntegrationTapUnprivilegedIfname starts QEMU as nobody, with no
// capabilities, opening its fixed tap by name (nicplug.Taps.Args: ifname=…)
// after nicplug.PrepareTaps gave the tap to nobody (TapOptions.User). QEMU
// must run in the tap's network namespace and needs read-write access to
// /dev/net/tun, which is 0600 root here: a wrapper runs it with `ip netns
// exec` (a mount namespace of its own) over a private tmpfs on /dev/net
// with a 0666 tun node, then setpriv to nobody. Nothing outside that
// mount namespace changes. The NIC is plugged and moved as above.
func TestIntegrationTapUnprivilegedIfname(t *testing.T) {
	l := newTapLANs(t)
	testenv.RequireQEMUAs(t, nobody, nobody)
	tun, err := os.Stat("/dev/net/tun")
	if err != nil {
		testenv.Skip(t, "no /dev/net/tun: "+err.Error())
	}
	wrapper := filepath.Join(t.TempDir(), "qemu-as-nobody")
	script := fmt.Sprintf(`#!/bin/sh
# QEMU as nobody in network namespace %[1]s, with a /dev/net/tun node it may
# open: a tmpfs on /dev/net in the mount namespace ip netns exec creates.
exec ip netns exec %[1]s sh -ec 'mount -t tmpfs -o size=16k,mode=0755 nph2tun /dev/net
mknod -m 0666 /dev/net/tun c 10 200
exec setpriv --reuid=%[2]d --regid=%[2]d --clear-groups --pdeathsig KILL "$0" "$@"' %[3]q "$@"
`, filepath.Base(l.host), nobody, testenv.RequireQEMU(t))
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := bootWith(t, bootOpts{nic: tapNoneXML, cfg: &nicplug.Config{Netns: l.host, CarrierHold: carrierHold},
		tapNetns: l.host, tapByName: true, tapUser: &nicplug.TapUser{UID: nobody, GID: nobody}, cpus: 2,
		runAs: &guest.RunAs{UID: nobody, GID: nobody, ByWrapper: true}, qemu: wrapper})
	testenv.CheckRunsAs(t, r.g.Pid(), nobody, nobody, true)
	// The tap is nobody's. (The kernel lets any process that can open
	// /dev/net/tun attach to a persistent tap with no owner and no
	// group: TapOptions.User restricts that tap to nobody rather than
	// granting what the tun node's mode already grants.)
	tap := r.iface0().Tap
	for _, attr := range []string{"owner", "group"} {
		out, err := exec.Command("ip", "netns", "exec", filepath.Base(l.host), "cat", "/sys/class/net/"+tap+"/"+attr).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != strconv.Itoa(nobody) {
			t.Errorf("tap %s's %s: %q, %v; want %d", tap, attr, got, err, nobody)
		}
	}
	if fds := tapFDs(t, r.g.Pid()); len(fds) != 2 {
		t.Errorf("QEMU holds %d fds of a tun device, want the 2 queues it opened: %q", len(fds), fds)
	}
	r.plug("unprivileged QEMU, ifname: plug bridge", tapBridgeXML(l.br1.Bridge), l.br1.Subnet)
	r.checkTap(l, bridgeTo(l.br1.Bridge))
	r.plug("unprivileged QEMU, ifname: move to direct", tapDirectXML(l.direct.Parent), l.direct.Subnet)
	r.checkTap(l, directTo(l.direct.Parent))
	r.checkOnly("unprivileged QEMU, ifname: on direct", l.all, l.direct)
	// The host's /dev/net/tun is untouched.
	if now, err := os.Stat("/dev/net/tun"); err != nil || !os.SameFile(now, tun) || now.Mode() != tun.Mode() {
		t.Errorf("/dev/net/tun changed: %v, %v (was %v)", now.Mode(), err, tun.Mode())
	}
}

// tapFDs returns the fds of process pid open on the tun device (the
// /dev/net/tun character device, major 10 minor 200, whatever node).
func tapFDs(t *testing.T, pid int) []string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, e := range ents {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&os.ModeCharDevice != 0 && st.Rdev == 10<<8|200 {
			fds = append(fds, e.Name())
		}
	}
	return fds
}
