package main

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
)

// hsNetns is a fresh network namespace with a veth pair (veth0 is the
// macvtap parent), deleted when the test ends.
func hsNetns(t *testing.T) (name, path string) {
	t.Helper()
	testenv.RequireRoot(t)
	var b [4]byte
	rand.Read(b[:])
	name = "nphs-" + hex.EncodeToString(b[:])
	ip(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	for _, args := range [][]string{
		{"link", "add", "veth0", "type", "veth", "peer", "name", "veth1"},
		{"link", "set", "veth0", "up"},
		{"link", "set", "veth1", "up"},
	} {
		ip(t, append([]string{"-n", name}, args...)...)
	}
	return name, "/run/netns/" + name
}

// TestIntegrationShowDomainHostLink: show --domain names a direct backend
// by the file only when its macvtap is in --netns. With no --netns or a
// wrong one it prints the backend unknown and where the macvtap is (as
// show without --domain does); after `ip link del` of the macvtap,
// unknown and missing — and show --xml says the same in its comment and
// warning. An update then repairs the NIC without calling the file stale.
func TestIntegrationShowDomainHostLink(t *testing.T) {
	v := startCLIVM(t)
	nsName, ns := hsNetns(t)
	_, wrong := hsNetns(t)
	sock, dom := v.q.Socket, v.domain
	iface := writeIface(t, t.TempDir(), "direct.xml", directIface("veth0"))
	mustRun(t, 0, "start", "--qmp", sock, dom)
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, "--carrier-hold", "0", iface)
	mvt := ownedLinks(t, ns, "cli")[0].Name
	const direct = "direct(veth0,bridge)"
	show := func(args ...string) nicRow {
		t.Helper()
		return nic(t, showArgs(t, append([]string{"show", "--qmp", sock, "--domain", dom, "--json"}, args...)...), "net0")
	}
	if r := show("--netns", ns); r.Backend != direct || r.MissingLink != "" || r.Elsewhere != "" {
		t.Errorf("show --netns %s: %+v, want backend %s", ns, r, direct)
	}

	hint := "its host device " + mvt + " is in network namespace " + ns + ": run with --netns " + ns
	for what, args := range map[string][]string{"no --netns": nil, "a wrong --netns": {"--netns", wrong}} {
		if r := show(args...); r.Backend != "unknown" || r.MissingLink != mvt || r.Elsewhere != hint {
			t.Errorf("show --domain with %s: %+v, want backend unknown, missing link %s and %q", what, r, mvt, hint)
		}
		out, _ := mustRun(t, 0, append([]string{"show", "--qmp", sock, "--domain", dom}, args...)...)
		if !strings.Contains(out, "net0: backend unknown here: "+hint+"\n") || strings.Contains(out, direct) {
			t.Errorf("show --domain with %s:\n%s", what, out)
		}
		code, xml, stderr := runCmd(t, append([]string{"show", "--qmp", sock, "--name", "cli", "--xml"}, args...)...)
		if code != 0 || !strings.Contains(stderr, hint) || !strings.Contains(xml, "<!-- nicplug: net0: a backend is attached") ||
			!strings.Contains(xml, "is in network namespace "+ns) {
			t.Errorf("show --xml with %s: exit %d, stderr %q:\n%s", what, code, stderr, xml)
		}
	}

	ip(t, "-n", nsName, "link", "del", mvt)
	gone := "its host device " + mvt + " is missing: it is in none of the network namespaces nicplug looks in"
	if r := show("--netns", ns); r.Backend != "unknown" || r.MissingLink != mvt || !strings.HasPrefix(r.Elsewhere, gone) {
		t.Errorf("show --domain after ip link del: %+v, want backend unknown, missing link %s and %q…", r, mvt, gone)
	}
	out, _ := mustRun(t, 0, "show", "--qmp", sock, "--domain", dom, "--netns", ns)
	if !strings.Contains(out, "net0: backend unknown here: "+gone) || strings.Contains(out, direct) {
		t.Errorf("show --domain after ip link del:\n%s", out)
	}
	code, xml, stderr := runCmd(t, "show", "--qmp", sock, "--name", "cli", "--netns", ns, "--xml")
	checkOneLine(t, stderr)
	if code != 0 || !strings.Contains(stderr, gone) || !strings.Contains(xml, "<!-- nicplug: net0: a backend is attached") ||
		!strings.Contains(xml, "its host device "+mvt+" is missing") {
		t.Errorf("show --xml after ip link del: exit %d, stderr %q:\n%s", code, stderr, xml)
	}
	if _, err := domain.ParseDomain([]byte(xml), nil); err != nil {
		t.Errorf("show --xml output does not parse: %v\n%s", err, xml)
	}

	// The update replaces the backend, and does not call the file stale.
	_, stderr = mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, "--carrier-hold", "0", iface)
	if strings.Contains(stderr, "stale") {
		t.Errorf("update after ip link del: stderr %q", stderr)
	}
	if r := show("--netns", ns); r.Backend != direct || r.MissingLink != "" {
		t.Errorf("show after the repair: %+v, want backend %s", r, direct)
	}
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, "testdata/iface-none.xml")
	if links := ownedLinks(t, ns, "cli"); len(links) != 0 {
		t.Errorf("after the unplug: %v left", links)
	}
}
