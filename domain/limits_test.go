package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
)

// TestDocumentSizeLimit: a document beyond MaxDocumentSize is refused
// before it is decoded; one at the limit is decoded.
func TestDocumentSizeLimit(t *testing.T) {
	pad := func(doc string, size int) []byte {
		i := strings.LastIndex(doc, "</")
		return []byte(doc[:i] + "<!--" + strings.Repeat("x", size-len(doc)-7) + "-->" + doc[i:])
	}
	dom := `<domain type='qemu'><name>big</name><devices><interface type='user'>` + mac1 + `</interface></devices></domain>`
	iface := `<interface type='user'>` + mac1 + `</interface>`
	if _, err := domain.ParseDomain(pad(dom, domain.MaxDocumentSize), nil); err != nil {
		t.Errorf("ParseDomain at the limit: %v", err)
	}
	if _, err := domain.ParseInterface(pad(iface, domain.MaxDocumentSize), nil); err != nil {
		t.Errorf("ParseInterface at the limit: %v", err)
	}
	_, err := domain.ParseDomain(pad(dom, domain.MaxDocumentSize+1), nil)
	const want = "domain: document too large: 1048577 bytes, the limit is 1048576 (1 MiB)"
	if !errors.Is(err, domain.ErrTooLarge) || err.Error() != want {
		t.Errorf("ParseDomain beyond the limit: %v, want %s", err, want)
	}
	if _, err := domain.ParseInterface(pad(iface, domain.MaxDocumentSize+1), nil); !errors.Is(err, domain.ErrTooLarge) {
		t.Errorf("ParseInterface beyond the limit: %v, want ErrTooLarge", err)
	}
}

// TestMaxNICs: a domain with more interfaces than the root PCI bus holds
// is refused before libvirtxml decodes it.
func TestMaxNICs(t *testing.T) {
	doc := func(n int) []byte {
		var b strings.Builder
		b.WriteString("<domain type='qemu'><name>many</name><devices>")
		for i := range n {
			fmt.Fprintf(&b, "<interface type='user'><mac address='52:54:00:00:%02x:%02x'/></interface>", i>>8, i&255)
		}
		b.WriteString("</devices></domain>")
		return []byte(b.String())
	}
	if d, err := domain.ParseDomain(doc(domain.MaxNICs), nil); err != nil || len(d.NICs) != domain.MaxNICs {
		t.Errorf("%d NICs: %v", domain.MaxNICs, err)
	}
	_, err := domain.ParseDomain(doc(domain.MaxNICs+1), nil)
	if want := "domain: 257 <interface> elements, the limit is 256 (the root PCI bus has 32 slots of 8 functions)"; err == nil || err.Error() != want {
		t.Errorf("%d NICs: %v, want %s", domain.MaxNICs+1, err, want)
	}
}

// TestDomainName: names that would break owner tags or file names, or are
// too long, are refused when the domain is parsed.
func TestDomainName(t *testing.T) {
	tests := []struct{ name, err string }{
		{"vm-1", ""},
		{"my vm (test)", ""},
		{strings.Repeat("n", domain.MaxNameLen), ""},
		{"a/b", `domain: the domain name "a/b" contains '/' (nicplug names host devices and files with it)`},
		{"..", `domain: the domain name ".." contains ".." (nicplug names host devices and files with it)`},
		{"x..y", `contains ".."`},
		{strings.Repeat("n", 300), `domain: the domain name "` + strings.Repeat("n", 64) + `…" is 300 bytes long, the limit is 64`},
		{"tab\there", "contains a non-printable character"},
	}
	for _, tt := range tests {
		doc := `<domain type='qemu'><name>` + tt.name + `</name><devices/></domain>`
		_, err := domain.ParseDomain([]byte(doc), nil)
		if cerr := domain.CheckName(tt.name); (cerr == nil) != (err == nil) {
			t.Errorf("%q: CheckName %v, ParseDomain %v", tt.name, cerr, err)
		}
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: %v, want %s", tt.name, err, tt.err)
		}
	}
	if err := domain.CheckName(""); err == nil {
		t.Error("CheckName accepts an empty name")
	}
}

// TestBadPort: a port that is not a number says so in one line, not with
// strconv's words.
func TestBadPort(t *testing.T) {
	tests := []struct{ xml, want string }{
		{`<interface type='server'>` + mac1 + `<source address='127.0.0.1' port='-1'/></interface>`,
			"domain: interface: <source port='-1'>: the port is not a number: want 1-65535"},
		{`<interface type='udp'>` + mac1 + `<source address='127.0.0.1' port='5'><local address='127.0.0.1' port='x y'/></source></interface>`,
			"domain: interface: <local port='x y'>: the port is not a number: want 1-65535"},
		{`<interface type='client'>` + mac1 + `<source address='127.0.0.1' port='99999'/></interface>`,
			"domain: interface: client port 99999 is out of range 1-65535"},
		{`<interface type='client'>` + mac1 + `<source address='127.0.0.1' port='0'/></interface>`,
			"domain: interface: client port 0 is out of range 1-65535"},
	}
	for _, tt := range tests {
		_, err := domain.ParseInterface([]byte(tt.xml), nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.xml, err, tt.want)
		}
	}
	// Any other number libvirtxml cannot decode: no strconv wording.
	_, err := domain.ParseInterface([]byte(`<interface type='user'>`+mac1+`<boot order='-3'/></interface>`), nil)
	if err == nil || strings.Contains(err.Error(), "strconv") || !strings.Contains(err.Error(), `"-3"`) {
		t.Errorf("boot order -3: %v", err)
	}
}

// TestIPv6Refused: QEMU's socket netdev cannot take IPv6 addresses, so
// they are refused when parsed, naming the address.
func TestIPv6Refused(t *testing.T) {
	for _, src := range []string{
		`<source address='::1' port='5000'/>`,
		`<source address='2001:db8::1' port='5000'/>`,
	} {
		_, err := domain.ParseInterface([]byte(`<interface type='client'>`+mac1+src+`</interface>`), nil)
		if err == nil || !strings.Contains(err.Error(), "is an IPv6 address: QEMU's socket netdev takes IPv4 only") {
			t.Errorf("%s: %v", src, err)
		}
	}
}

// TestErrorsQuoteInputCut: an error that quotes a huge input value quotes
// at most its start, cut with an ellipsis, on one line.
func TestErrorsQuoteInputCut(t *testing.T) {
	huge := strings.Repeat("A", 200<<10)
	docs := []string{
		`<interface type='user'>` + mac1 + `<model type='` + huge + `'/></interface>`,
		`<interface type='` + huge + `'>` + mac1 + `</interface>`,
		`<interface type='direct'>` + mac1 + `<source dev='eth0' mode='` + huge + `'/></interface>`,
		`<interface type='direct'>` + mac1 + `<source dev='` + huge + `' mode='bridge'/></interface>`,
		`<interface type='user'><mac address='` + huge + `'/></interface>`,
		`<interface type='user'>` + mac1 + `<alias name='` + huge + `'/></interface>`,
		`<interface type='user'>` + mac1 + `<link state='` + huge + `'/></interface>`,
		`<interface type='client'>` + mac1 + `<source address='` + huge + `' port='1'/></interface>`,
		`<interface type='client'>` + mac1 + `<source address='127.0.0.1' port='` + huge + `'/></interface>`,
		`<interface type='user'>` + mac1 + `<boot order='` + huge + `'/></interface>`,
		`<` + huge + `/>`,
		`<interface type='user'>` + mac1 + `<model type='a&#10;b&#10;` + huge + `'/></interface>`,
		`<interface type='network'>` + mac1 + `<source network='` + huge + `'/></interface>`,
	}
	for _, doc := range docs {
		_, err := domain.ParseInterface([]byte(doc), nil)
		if err == nil {
			t.Errorf("%.60s… parsed", doc)
			continue
		}
		if s := err.Error(); len(s) > 400 || strings.Contains(s, "\n") || !strings.Contains(s, "…") {
			t.Errorf("%.60s…: error of %d bytes, not one cut line: %.500s", doc, len(s), s)
		}
	}
	// Changes quote both values, cut.
	ce := &domain.ChangeError{Field: domain.FieldBootOrder, Old: "1", New: huge}
	if s := ce.Error(); len(s) > 200 || !strings.Contains(s, "…") {
		t.Errorf("ChangeError: %.300s", s)
	}
}

// TestIPv4MappedRefused (issue 13): an IPv4-mapped IPv6 address
// (::ffff:127.0.0.1) is an IPv6 address to QEMU's socket netdev, which
// refuses it ("can't resolve host address '['"): it is refused when
// parsed, as ::1 is, naming the field and the IPv4 address to give.
func TestIPv4MappedRefused(t *testing.T) {
	for _, tt := range []struct{ typ, src, want string }{
		{"client", `<source address='::ffff:127.0.0.1' port='5000'/>`, `client address "::ffff:127.0.0.1" is an IPv4-mapped IPv6 address: QEMU's socket netdev takes IPv4 only: give 127.0.0.1`},
		{"server", `<source address='::FFFF:7f00:1' port='5000'/>`, `server address "::FFFF:7f00:1" is an IPv4-mapped IPv6 address`},
		{"mcast", `<source address='::ffff:239.0.0.1' port='5000'/>`, `mcast address "::ffff:239.0.0.1" is an IPv4-mapped IPv6 address`},
		{"mcast", `<source address='239.0.0.1' port='5000'><local address='::ffff:192.0.2.1'/></source>`, `mcast local address "::ffff:192.0.2.1" is an IPv4-mapped IPv6 address`},
		{"udp", `<source address='192.0.2.1' port='5000'><local address='::ffff:192.0.2.2' port='5001'/></source>`, `udp local address "::ffff:192.0.2.2" is an IPv4-mapped IPv6 address`},
	} {
		_, err := domain.ParseInterface([]byte(`<interface type='`+tt.typ+`'>`+mac1+tt.src+`</interface>`), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.src, err, tt.want)
		}
	}
}
