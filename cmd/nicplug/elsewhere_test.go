package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationTapForgottenNetns: on the tap datapath the fixed tap
// lives in the namespace qemu-args was given. Every command that forgets
// --netns is refused (exit 2) naming that namespace and changes nothing
// (start, update, plan with and without the domain); no "stale file"
// warning claims QEMU has no backend; show and show --xml say the backend
// is unknown and where the tap is; cleanup without --netns deletes
// nothing and fails naming the namespace, instead of exiting 0 with the
// tap left behind.
func TestIntegrationTapForgottenNetns(t *testing.T) {
	nsName, ns := tapNetns(t)
	dir := t.TempDir()
	vm := "clins" + nsName[len(nsName)-4:]
	dom := writeFile(t, dir, "domain.xml", fmt.Sprintf(`<domain type='qemu'><name>%s</name><os><type machine='q35'>hvm</type></os><devices>%s</devices></domain>`,
		vm, fmt.Sprintf(tapIfaceFmt, "none", "")))
	br0 := writeFile(t, dir, "br0.xml", fmt.Sprintf(tapIfaceFmt, "bridge", "<source bridge='br0'/>"))
	none := writeFile(t, dir, "none.xml", fmt.Sprintf(tapIfaceFmt, "none", ""))
	tap := backend.TapName(vm, "net0")
	want := "NIC net0 of VM " + vm + " has host device " + tap + " in network namespace " + ns +
		", where nicplug created it, not in this command's (--netns): run it with --netns " + ns

	out, _ := mustRun(t, 0, "qemu-args", "--netns", ns, dom)
	q := testenv.StartQEMUNetns(t, nsName, strings.Split(strings.TrimSuffix(out, "\n"), "\n")...)
	sock := q.Socket
	refused := func(code int, args ...string) {
		t.Helper()
		_, stderr := mustRun(t, code, args...)
		if !strings.Contains(stderr, want) {
			t.Errorf("%v: stderr %q, want %q", args, stderr, want)
		}
	}
	refused(exitUsage, "start", "--qmp", sock, dom)
	if st := showJSON(t, sock, dom, ns); st.Running {
		t.Fatal("a refused start resumed QEMU")
	}
	mustRun(t, 0, "start", "--qmp", sock, "--netns", ns, dom)
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, "--carrier-hold", "0", br0)
	saved := readString(t, dom)

	refused(exitUsage, "update", "--qmp", sock, "--domain", dom, none)
	refused(exitUsage, "update", "--qmp", sock, "--name", vm, none)
	refused(exitUsage, "plan", "--qmp", sock, "--domain", dom, none)
	code, _, stderr := runCmd(t, "update", "--qmp", sock, "--domain", dom, none)
	if code != exitUsage || strings.Contains(stderr, "stale") {
		t.Errorf("update without --netns: exit %d, stderr %q: want exit 2 and no stale-file warning", code, stderr)
	}
	if p, err := backend.NewNetifHost(ns).TapPlug(t.Context(), tap); err != nil || p.Master != "br0" {
		t.Errorf("after refused commands: tap plugged into %+v, %v; want br0 still", p, err)
	}
	if readString(t, dom) != saved {
		t.Error("refused commands rewrote the domain file")
	}

	// show: unknown, and where the tap is.
	for _, args := range [][]string{{"--domain", dom}, {"--name", vm}} {
		r := nic(t, showArgs(t, append([]string{"show", "--qmp", sock, "--json"}, args...)...), "net0")
		if r.Backend != "unknown" || !strings.HasPrefix(r.PluggedInto, "unknown: ") || !strings.Contains(r.PluggedInto, "in network namespace "+ns+": run with --netns "+ns) {
			t.Errorf("show %v without --netns: %+v", args, r)
		}
	}
	code, xml, stderr := runCmd(t, "show", "--qmp", sock, "--name", vm, "--xml")
	if code != 0 || !strings.Contains(stderr, "is in network namespace "+ns) || !strings.Contains(xml, "<!-- nicplug: net0: what its fixed tap "+tap+" is plugged into could not be read") {
		t.Errorf("show --xml without --netns: exit %d, stderr %q:\n%s", code, stderr, xml)
	}
	if _, err := domain.ParseDomain([]byte(xml), nil); err != nil {
		t.Errorf("show --xml output does not parse: %v\n%s", err, xml)
	}

	q.Kill()
	<-q.Done()
	_, stderr = mustRun(t, exitUsage, "cleanup", "--name", vm)
	if w := "VM " + vm + " has no host device in this command's network namespace (--netns), but has " + tap + " (NIC net0) in network namespace " + ns + ": run it with --netns " + ns; !strings.Contains(stderr, w) {
		t.Errorf("cleanup without --netns: %q, want %q", stderr, w)
	}
	if links := ownedLinks(t, ns, vm); len(links) != 1 {
		t.Errorf("after the refused cleanup: %v, want the tap", links)
	}
	if out, _ := mustRun(t, 0, "cleanup", "--netns", ns, dom); out != "deleted "+tap+"\n" {
		t.Errorf("cleanup printed %q", out)
	}
	if _, stderr := mustRun(t, 0, "cleanup", "--netns", ns, dom); !strings.Contains(stderr, "nothing to delete") {
		t.Errorf("cleanup of nothing: stderr %q", stderr)
	}
}

// TestIntegrationShowForgottenNetns: on the hub datapath, show without
// --netns names the namespace where the NIC's macvtap is (from the record
// beside the socket) instead of a bare "unknown".
func TestIntegrationShowForgottenNetns(t *testing.T) {
	v := startCLIVM(t)
	ns := testNetns(t)
	sock, dom := v.q.Socket, v.domain
	iface := writeIface(t, t.TempDir(), "direct.xml", directIface("veth0"))
	mustRun(t, 0, "start", "--qmp", sock, dom)
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, iface)
	mvt := ownedLinks(t, ns, "cli")[0].Name
	hint := "its host device " + mvt + " is in network namespace " + ns + ": run with --netns " + ns
	if r := nic(t, showArgs(t, "show", "--qmp", sock, "--name", "cli", "--json"), "net0"); r.Backend != "unknown" || r.Elsewhere != hint {
		t.Errorf("show without --netns: %+v, want backend unknown and %q", r, hint)
	}
	out, _ := mustRun(t, 0, "show", "--qmp", sock, "--name", "cli")
	if !strings.Contains(out, "net0: backend unknown here: "+hint+"\n") {
		t.Errorf("show without --netns:\n%s", out)
	}
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, "testdata/iface-none.xml")
}

// showArgs runs a show --json command and decodes it.
func showArgs(t *testing.T, args ...string) showOutput {
	t.Helper()
	out, _ := mustRun(t, 0, args...)
	var so showOutput
	if err := jsonUnmarshal(out, &so); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return so
}
