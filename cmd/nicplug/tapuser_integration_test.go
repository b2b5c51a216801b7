package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/internal/qemuproc"
	"github.com/nicplug/nicplug/internal/testenv"
)

// nobody is the unprivileged user QEMU runs as in TestIntegrationCLITapUser.
const nobody = 65534

// TestIntegrationCLITapUser follows the README's flow for an unprivileged
// QEMU that opens its fixed tap by name: qemu-args creates the tap (root's),
// qemu-args again with --tap-user 65534:65534 gives it to nobody (the tap
// is kept; qemu-args without it then refuses, exit 1); QEMU, started as uid 65534 without capabilities in the tap's
// namespace, with a 0666 tun node in a private mount namespace (as
// e2e's TestIntegrationTapUnprivilegedIfname), opens both queues; start
// and an update onto a bridge work; cleanup deletes the tap.
func TestIntegrationCLITapUser(t *testing.T) {
	nsName, ns := tapNetns(t)
	bin := testenv.RequireQEMUAs(t, nobody, nobody)
	dir := t.TempDir()
	vm := "clitapu" + nsName[len(nsName)-4:]
	dom := writeFile(t, dir, "domain.xml", fmt.Sprintf(`<domain type='qemu'><name>%s</name><os><type machine='q35'>hvm</type></os><devices>%s</devices></domain>`,
		vm, fmt.Sprintf(tapIfaceFmt, "none", "")))
	tap := backend.TapName(vm, "net0")
	owner := func() string {
		t.Helper()
		var ids []string
		for _, attr := range []string{"owner", "group"} {
			out, err := exec.Command("ip", "netns", "exec", nsName, "cat", "/sys/class/net/"+tap+"/"+attr).CombinedOutput()
			if err != nil {
				t.Fatalf("read %s's %s: %v: %s", tap, attr, err, out)
			}
			ids = append(ids, strings.TrimSpace(string(out)))
		}
		return strings.Join(ids, ":")
	}

	first, _ := mustRun(t, 0, "qemu-args", "--netns", ns, dom)
	if got := owner(); got != "0:-1" {
		t.Errorf("after qemu-args: tap owner:group %s, want 0:-1", got)
	}
	out, _ := mustRun(t, 0, "qemu-args", "--netns", ns, "--tap-user", "65534:65534", dom)
	if out != first {
		t.Errorf("qemu-args --tap-user printed\n%s\nwas\n%s", out, first)
	}
	if got := owner(); got != "65534:65534" {
		t.Errorf("after qemu-args --tap-user 65534:65534: tap owner:group %s, want 65534:65534", got)
	}
	// Without --tap-user again: nobody's group cannot be taken away.
	if _, stderr := mustRun(t, 1, "qemu-args", "--netns", ns, dom); !strings.Contains(stderr, "NIC net0: ") || !strings.Contains(stderr, "which cannot be removed") {
		t.Errorf("qemu-args without --tap-user on nobody's tap: %s", stderr)
	}
	if got := owner(); got != "65534:65534" {
		t.Errorf("after the refused qemu-args: tap owner:group %s, want 65534:65534", got)
	}

	// QEMU as nobody: its QMP socket in a directory it may write.
	sockDir, err := os.MkdirTemp("", "nphe-cli-qmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	if err := os.Chown(sockDir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "qemu-as-nobody")
	script := fmt.Sprintf(`#!/bin/sh
exec ip netns exec %[1]s sh -ec 'mount -t tmpfs -o size=16k,mode=0755 nphetun /dev/net
mknod -m 0666 /dev/net/tun c 10 200
exec setpriv --reuid=%[2]d --regid=%[2]d --clear-groups --pdeathsig KILL "$0" "$@"' %[3]q "$@"
`, nsName, nobody, bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	q, err := qemuproc.Start(ctx, &qemuproc.Config{Binary: wrapper, Socket: filepath.Join(sockDir, "qmp.sock"),
		Args: strings.Split(strings.TrimSuffix(out, "\n"), "\n")})
	if err != nil {
		t.Fatalf("QEMU as uid %d opening tap %s by name: %v", nobody, tap, err)
	}
	t.Cleanup(q.Kill)
	testenv.CheckRunsAs(t, q.Pid(), nobody, nobody, true)
	if n := tunFDs(t, q.Pid()); n != 2 {
		t.Errorf("QEMU holds %d fds of the tun device, want the tap's 2 queues", n)
	}

	mustRun(t, 0, "start", "--qmp", q.Socket(), "--netns", ns, dom)
	upd := writeFile(t, dir, "br0.xml", fmt.Sprintf(tapIfaceFmt, "bridge", "<source bridge='br0'/>"))
	mustRun(t, 0, "update", "--qmp", q.Socket(), "--domain", dom, "--netns", ns, "--carrier-hold", "0", upd)
	if p, err := backend.NewNetifHost(ns).TapPlug(t.Context(), tap); err != nil || p.Master != "br0" {
		t.Errorf("after update to br0: tap plugged into %+v, %v", p, err)
	}

	q.Kill()
	if out, _ := mustRun(t, 0, "cleanup", "--netns", ns, dom); out != "deleted "+tap+"\n" {
		t.Errorf("cleanup printed %q", out)
	}
}

// tunFDs counts the fds of process pid open on the tun device (major 10,
// minor 200, whatever node).
func tunFDs(t *testing.T, pid int) int {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&os.ModeCharDevice != 0 && st.Rdev == 10<<8|200 {
			n++
		}
	}
	return n
}
