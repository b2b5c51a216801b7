package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
)

// TestInjection feeds values that would inject QEMU options, host paths or
// XML/JSON structure if passed through; each must be refused at parse time.
func TestInjection(t *testing.T) {
	evil := []string{
		"a,b", "a,,b", "x=y", "eth0,script=/tmp/x", "a\nb", "a b", "a\tb",
		"/dev/tap0", "../etc", "..", ".", "a/b", `a"b`, "a'b", `a\b`, "a:b",
	}
	ifnameOnly := []string{"averyveryverylongname", ""} // bad as interface names only
	tmpl := map[string]string{
		"alias":         `<interface type='user'>` + mac1 + `<alias name="%s"/></interface>`,
		"direct dev":    `<interface type='direct'>` + mac1 + `<source dev="%s"/></interface>`,
		"ethernet dev":  `<interface type='ethernet'>` + mac1 + `<target dev="%s" managed='no'/></interface>`,
		"target dev":    `<interface type='bridge'>` + mac1 + `<source bridge='br0'/><target dev="%s"/></interface>`,
		"bridge":        `<interface type='bridge'>` + mac1 + `<source bridge="%s"/></interface>`,
		"model":         `<interface type='user'>` + mac1 + `<model type="%s"/></interface>`,
		"mac":           `<interface type='user'><mac address="%s"/></interface>`,
		"client addr":   `<interface type='client'>` + mac1 + `<source address="%s" port='1'/></interface>`,
		"udp local":     `<interface type='udp'>` + mac1 + `<source address='192.0.2.1' port='1'><local address="%s" port='2'/></source></interface>`,
		"mcast addr":    `<interface type='mcast'>` + mac1 + `<source address="%s" port='1'/></interface>`,
		"direct mode":   `<interface type='direct'>` + mac1 + `<source dev='eth0' mode="%s"/></interface>`,
		"type":          `<interface type="%s">` + mac1 + `</interface>`,
		"rom bar":       `<interface type='user'>` + mac1 + `<rom bar="%s"/></interface>`,
		"link state":    `<interface type='user'>` + mac1 + `<link state="%s"/></interface>`,
		"driver name":   `<interface type='user'>` + mac1 + `<driver name="%s"/></interface>`,
		"multifunction": `<interface type='user'>` + mac1 + `<address type='pci' bus='0' slot='3' function='0' multifunction="%s"/></interface>`,
	}
	for field, tm := range tmpl {
		values := evil
		if strings.HasSuffix(field, "dev") || field == "bridge" {
			values = append(values[:len(values):len(values)], ifnameOnly...)
		}
		for _, v := range values {
			x := strings.Replace(tm, "%s", xmlEscape(v), 1)
			t.Run(field+"/"+v, func(t *testing.T) {
				n, err := domain.ParseInterface([]byte(x), nil)
				if err == nil {
					t.Fatalf("ParseInterface accepted %s %q: backend %v model %q", field, v, n.Backend(), n.Model())
				}
				if !strings.HasPrefix(err.Error(), "domain: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
			})
		}
	}
	t.Run("alias/empty", func(t *testing.T) {
		if _, err := domain.ParseInterface([]byte(`<interface type='user'>`+mac1+`<alias name=""/></interface>`), nil); err == nil {
			t.Fatal("empty alias accepted")
		}
	})
	for _, m := range []string{"52:54:00:00:00", "52:54:00:00:00:01:02", "52-54-00-00-00-01", "5254.0000.0001", "01:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", "52:54:00:00:00:zz"} {
		t.Run("mac/"+m, func(t *testing.T) {
			if _, err := domain.ParseInterface([]byte(`<interface type='user'><mac address='`+m+`'/></interface>`), nil); err == nil {
				t.Fatalf("MAC %q accepted", m)
			}
		})
	}
}

// TestResolverInjection checks that a resolver's answer is validated like
// XML input.
func TestResolverInjection(t *testing.T) {
	bad := []domain.Backend{
		{Type: domain.TypeBridge, Bridge: "br0,script=/x"},
		{Type: domain.TypeDirect, Dev: "eth0", Mode: "vepa,x"},
		{Type: domain.TypeEthernet, Dev: "../tap"},
		{Type: domain.TypeClient, Address: "a,b", Port: 1},
		{Type: domain.TypeUser, Bridge: "br0"},
		{Type: "vhostuser"},
		{},
	}
	for _, b := range bad {
		opts := &domain.ParseOptions{Resolver: func(string, string) (domain.Backend, error) { return b, nil }}
		_, err := domain.ParseInterface([]byte(`<interface type='network'>`+mac1+`<source network='n'/></interface>`), opts)
		if err == nil {
			t.Errorf("resolver answer %+v accepted", b)
		}
	}
	_, err := domain.ParseInterface([]byte(`<interface type='network'>`+mac1+`<source network='n'/></interface>`), nil)
	if !errors.Is(err, domain.ErrUnknownNetwork) || strings.Contains(err.Error(), "Resolver") {
		t.Errorf("network without resolver: error %v, want ErrUnknownNetwork without Go names", err)
	}
}

// TestQEMUArgsAreJSON checks every -netdev/-device value of every golden
// domain is a JSON object whose string values are all validated names.
func TestQEMUArgsAreJSON(t *testing.T) {
	d, err := domain.ParseDomain([]byte(`<domain type='kvm'><name>j</name><os><type machine='q35'>hvm</type></os><devices>
<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><model type='virtio'/><alias name='a-b_c'/><boot order='3'/><address type='pci' bus='0' slot='4' function='0'/></interface>
<interface type='none'><mac address='52:54:00:00:00:02'/><model type='e1000e'/></interface>
</devices></domain>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	args, err := d.QEMUArgs()
	if err != nil {
		t.Fatal(err)
	}
	if want, got := 8, len(args); want != got {
		t.Fatalf("got %d args, want %d: %q", got, want, args)
	}
	for i := 0; i < len(args); i += 2 {
		if args[i] != "-netdev" && args[i] != "-device" {
			t.Errorf("arg %d = %q, want -netdev or -device", i, args[i])
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(args[i+1]), &m); err != nil {
			t.Errorf("arg %d %q is not a JSON object: %v", i+1, args[i+1], err)
		}
	}
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", `"`, "&quot;", "\n", "&#10;", "\t", "&#9;")
	return r.Replace(s)
}
