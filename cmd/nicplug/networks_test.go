package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestNetworksFlag (issue 13, item 6): type='network' works from the CLI
// with --networks DIR, and without it the error says what to do, naming no
// Go field.
func TestNetworksFlag(t *testing.T) {
	const td = "testdata/"
	runCases(t, []cliCase{
		{name: "no definitions", args: []string{"plan", "--from", td + "domain.xml", td + "iface-network.xml"}, code: 2,
			stderr: "nicplug: plan: testdata/iface-network.xml: domain: interface: type network: network 'lan' is not defined (no network definitions were given) (give libvirt <network> XML files in a directory with --networks DIR)",
			not:    "Resolver"},
		{name: "no definitions qemu-args", args: []string{"qemu-args", td + "domain-network.xml"}, code: 2,
			stderr: "network 'lan' is not defined (no network definitions were given) (give libvirt", not: "Resolver"},
		{name: "no definitions update", args: []string{"update", "--qmp", "/nonexistent.sock", "--domain", td + "domain.xml", td + "iface-network.xml"}, code: 2,
			stderr: "--networks DIR", not: "Resolver"},
		{name: "bridge network", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", td + "iface-network.xml"}, code: 0,
			stdout: "create-bridge-tap np21becea8ac bridge=virbr7 mac=52:54:00:0f:7d:ad owner=cli/net0"},
		{name: "direct network", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", td + "iface-network-direct.xml"}, code: 0,
			stdout: "create-macvtap np21becea8ac parent=eth3 mode=passthrough"},
		{name: "qemu-args", args: []string{"qemu-args", "--networks", td + "networks", td + "domain-network.xml"}, code: 0,
			stdout: `"id":"np.net0.nic"`},
		{name: "from a network domain", args: []string{"plan", "--from", td + "domain-network.xml", "--networks", td + "networks", td + "iface-user.xml"}, code: 0,
			stdout: "plan switch netdom net0: "},
		{name: "no xml files", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "golden", td + "iface-network.xml"}, code: 2,
			stderr: "nicplug: plan: --networks testdata/golden: no *.xml files"},
		{name: "not a network", args: []string{"plan", "--from", td + "domain.xml", "--networks", td, td + "iface-network.xml"}, code: 2,
			stderr: "bad.xml: "},
		{name: "undefined network", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", writeTemp(t, "x.xml", []byte(strings.Replace(readString(t, td+"iface-network.xml"), "'lan'", "'wan'", 1)))}, code: 2,
			stderr: "network 'wan' is not defined in testdata/networks (defined: lan, office, uplink)"},
		{name: "no such portgroup", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", td + "iface-network-portgroup.xml"}, code: 2,
			stderr: "resolve network 'lan': network 'lan' has no portgroup 'engineering' (it has: none)"},
		{name: "network vlan, default portgroup", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", officeIface(t, "", "")}, code: 0,
			stdout: "bridge=br-office mac=52:54:00:0f:7d:ad vlan=20 owner=cli/net0"},
		{name: "network vlan, portgroup without one", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", officeIface(t, "staff", "")}, code: 0,
			stdout: "bridge=br-office mac=52:54:00:0f:7d:ad vlan=10 owner=cli/net0"},
		{name: "interface vlan first", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", officeIface(t, "guests", "<vlan><tag id='30'/></vlan>")}, code: 0,
			stdout: "bridge=br-office mac=52:54:00:0f:7d:ad vlan=30 owner=cli/net0"},
		{name: "portgroup virtualport", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", officeIface(t, "ovs", "")}, code: 2,
			stderr: "network 'office', portgroup 'ovs': <virtualport> is not supported (nicplug does not apply it)"},
		{name: "portgroup bandwidth", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", officeIface(t, "metered", "")}, code: 2,
			stderr: "network 'office', portgroup 'metered': <bandwidth> is not supported"},
		{name: "unknown portgroup", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks", officeIface(t, "sales", "")}, code: 2,
			stderr: "network 'office' has no portgroup 'sales' (it has: guests, metered, ovs, staff)"},
		{name: "duplicate", args: []string{"plan", "--from", td + "domain.xml", "--networks", td + "networks-dup", td + "iface-network.xml"}, code: 2,
			stderr: "nicplug: plan: --networks testdata/networks-dup: a.xml and b.xml both define network 'lan'"},
		{name: "hostdev", args: []string{"qemu-args", "--networks", td + "networks-bad", td + "domain.xml"}, code: 2,
			stderr: "sriov.xml: network 'sriov': forward mode 'hostdev' is not supported"},
		{name: "not a directory", args: []string{"show", "--qmp", "x", "--networks", td + "domain.xml"}, code: 2,
			stderr: "--networks testdata/domain.xml: not a directory"},
		{name: "missing", args: []string{"start", "--qmp", "x", "--networks", td + "nope", td + "domain.xml"}, code: 2,
			stderr: "--networks testdata/nope: stat testdata/nope: no such file or directory"},
	})
}

// officeIface writes an <interface> on testdata/networks/office.xml's
// network, in portgroup group ("" for none), with inner XML extra.
func officeIface(t *testing.T, group, extra string) string {
	t.Helper()
	pg := ""
	if group != "" {
		pg = " portgroup='" + group + "'"
	}
	return writeTemp(t, "office.xml", []byte("<interface type='network'><mac address='52:54:00:0f:7d:ad'/><source network='office'"+pg+"/><model type='virtio'/>"+extra+"</interface>"))
}

// TestParseNetwork maps libvirt's network kinds to backends.
func TestParseNetwork(t *testing.T) {
	tests := []struct {
		xml  string
		want domain.Backend
		err  string
	}{
		{`<network><name>n</name><bridge name='br0'/></network>`, domain.Backend{Type: domain.TypeBridge, Bridge: "br0"}, ""},
		{`<network><name>n</name><forward mode='route'/><bridge name='virbr1'/></network>`, domain.Backend{Type: domain.TypeBridge, Bridge: "virbr1"}, ""},
		{`<network><name>n</name><forward mode='bridge'/><bridge name='br-ext'/></network>`, domain.Backend{Type: domain.TypeBridge, Bridge: "br-ext"}, ""},
		{`<network><name>n</name><forward mode='bridge'><interface dev='eth1'/></forward></network>`, domain.Backend{Type: domain.TypeDirect, Dev: "eth1", Mode: "bridge"}, ""},
		{`<network><name>n</name><forward mode='vepa' dev='eth2'/></network>`, domain.Backend{Type: domain.TypeDirect, Dev: "eth2", Mode: "vepa"}, ""},
		{`<network><name>n</name><forward mode='private'><pf dev='eth3'/></forward></network>`, domain.Backend{Type: domain.TypeDirect, Dev: "eth3", Mode: "private"}, ""},
		{`<network><name>n</name><forward mode='nat'/></network>`, domain.Backend{}, "forward mode 'nat' needs <bridge name=…/>"},
		{`<network><name>n</name></network>`, domain.Backend{}, "forward mode 'none' needs <bridge name=…/>"},
		{`<network><name>n</name><forward mode='vepa'/></network>`, domain.Backend{}, "names no device"},
		{`<network><name>n</name><bridge name='br0,x=y'/></network>`, domain.Backend{}, `network 'n': bridge name "br0,x=y" contains ','`},
		{`<network><name>n</name><virtualport type='openvswitch'/><bridge name='ovs'/></network>`, domain.Backend{}, "<virtualport> is not supported"},
		{`<network><bridge name='br0'/></network>`, domain.Backend{}, "the network has no <name>"},
		{`<domain/>`, domain.Backend{}, "root element is <domain>, want <network>"},
		{`<network><name>n</name><bridge name='br0'/><vlan><tag id='7'/></vlan></network>`, domain.Backend{Type: domain.TypeBridge, Bridge: "br0", VLAN: 7}, ""},
		{`<network><name>n</name><forward mode='vepa' dev='eth2'/><vlan><tag id='7'/></vlan></network>`, domain.Backend{}, "network 'n': <vlan> on a network whose interfaces get type direct is not supported"},
		{`<network><name>n</name><bridge name='br0'/><vlan trunk='yes'><tag id='7'/><tag id='8'/></vlan></network>`, domain.Backend{}, "<vlan> with 2 tags (trunk='yes') is not supported"},
		{`<network><name>n</name><bridge name='br0'/><vlan><tag id='7' nativeMode='untagged'/></vlan></network>`, domain.Backend{}, "nativeMode='untagged' is not supported"},
		{`<network><name>n</name><bridge name='br0'/><vlan><tag id='4095'/></vlan></network>`, domain.Backend{}, "vlan tag id 4095 is out of range 1-4094"},
		{`<network><name>n</name><forward mode='vepa' dev='eth2'/><portgroup name='p'><vlan><tag id='7'/></vlan></portgroup></network>`, domain.Backend{}, "network 'n': portgroup 'p': <vlan> on a network whose interfaces get type direct"},
		{`<network><name>n</name><bridge name='br0'/><portgroup name='a' default='yes'/><portgroup name='b' default='yes'/></network>`, domain.Backend{}, "portgroups 'a' and 'b' are both default='yes'"},
		{`<network><name>n</name><bridge name='br0'/><portgroup name='a'/><portgroup name='a'/></network>`, domain.Backend{}, "two portgroups named 'a'"},
		{`<network><name>n</name><bridge name='br0'/><portgroup/></network>`, domain.Backend{}, "a <portgroup> has no name"},
	}
	for _, tt := range tests {
		var got domain.Backend
		def, err := parseNetwork([]byte(tt.xml))
		if err == nil {
			got = def.backend
		}
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("%s: %+v, %v; want %+v", tt.xml, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: %v, want %s", tt.xml, err, tt.err)
		}
	}
}

// TestIntegrationNetworks plugs a NIC into a libvirt-style bridge network
// defined with --networks, through a real QEMU and a bridge in a fresh
// network namespace, and unplugs it, leaving nothing behind.
func TestIntegrationNetworks(t *testing.T) {
	testenv.RequireRoot(t)
	v := startCLIVM(t)
	sock, dom := v.q.Socket, v.domain
	var b [4]byte
	rand.Read(b[:])
	ns := "npi13a-" + hex.EncodeToString(b[:])
	ip := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	ip("link", "add", "br0", "type", "bridge")
	ip("link", "set", "br0", "up")
	nets := t.TempDir()
	if err := os.WriteFile(filepath.Join(nets, "lan.xml"), []byte("<network><name>lan</name><forward mode='bridge'/><bridge name='br0'/></network>"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--qmp", sock, "--domain", dom, "--netns", "/run/netns/" + ns, "--networks", nets}

	mustRun(t, 0, "start", "--qmp", sock, "--networks", nets, dom)
	out, _ := mustRun(t, 0, append(append([]string{"update"}, flags...), "testdata/iface-network.xml")...)
	if !strings.Contains(out, "create-bridge-tap np21becea8ac bridge=br0") {
		t.Errorf("update printed:\n%s", out)
	}
	if links := ip("-o", "link", "show", "master", "br0"); !strings.Contains(links, "np21becea8ac") {
		t.Errorf("no tap on br0:\n%s", links)
	}
	if info := v.infoNetwork(t); !strings.Contains(info, "np.net0.b") {
		t.Errorf("no backend in QEMU:\n%s", info)
	}
	if saved := readString(t, dom); !strings.Contains(saved, `<source network="lan"></source>`) {
		t.Errorf("saved domain does not keep the network:\n%s", saved)
	}
	mustRun(t, 0, append([]string{"show"}, flags...)...)
	mustRun(t, 0, append(append([]string{"update"}, flags...), "testdata/iface-none.xml")...)
	if links := ip("-o", "link", "show", "master", "br0"); strings.TrimSpace(links) != "" {
		t.Errorf("left on br0:\n%s", links)
	}
}
