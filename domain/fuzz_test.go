package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
)

// The seed corpora live in testdata/fuzz/<target>/ and run with plain
// `go test`; `go test -fuzz=FuzzParseDomain` explores further.

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !strings.HasPrefix(err.Error(), "domain: ") {
		t.Errorf("error %q lacks the \"domain: \" prefix", err)
	}
}

func FuzzParseDomain(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := domain.ParseDomain(data, testOpts)
		checkErr(t, err)
		if err != nil {
			return
		}
		out, err := d.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed domain: %v", err)
		}
		d2, err := domain.ParseDomain(out, testOpts)
		if err != nil {
			t.Fatalf("re-parse of Marshal output: %v\n%s", err, out)
		}
		out2, err := d2.Marshal()
		if err != nil || string(out) != string(out2) {
			t.Fatalf("second round trip differs (%v):\n%s\n---\n%s", err, out, out2)
		}
		args, err := d.QEMUArgs()
		checkErr(t, err)
		for i := 1; i < len(args); i += 2 {
			if !json.Valid([]byte(args[i])) {
				t.Fatalf("QEMU arg %q is not JSON", args[i])
			}
		}
		if want, got := len(d.NICs), len(d.InitialLinks()); want != got {
			t.Fatalf("InitialLinks has %d entries for %d NICs", got, want)
		}
	})
}

func FuzzParseInterface(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := domain.ParseInterface(data, testOpts)
		checkErr(t, err)
		if err != nil {
			return
		}
		out, err := n.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed interface: %v", err)
		}
		n2, err := domain.ParseInterface(out, testOpts)
		if err != nil {
			t.Fatalf("re-parse of Marshal output: %v\n%s", err, out)
		}
		if n.Spelling != n2.Spelling || n.Backend() != n2.Backend() {
			t.Fatalf("round trip changed %s/%v to %s/%v", n.Spelling, n.Backend(), n2.Spelling, n2.Backend())
		}
		if c, err := domain.Diff(n, n2); err != nil || !c.Empty() {
			t.Fatalf("Diff(parsed, reparsed) = %+v, %v", c, err)
		}
	})
}

func FuzzDiff(f *testing.F) {
	f.Fuzz(func(t *testing.T, a, b []byte) {
		old, err := domain.ParseInterface(a, testOpts)
		if err != nil {
			return
		}
		if c, err := domain.Diff(old, old); err != nil || !c.Empty() {
			t.Fatalf("Diff(x, x) = %+v, %v; want empty", c, err)
		}
		n, err := domain.ParseInterface(b, testOpts)
		if err != nil {
			return
		}
		c, err := domain.Diff(old, n)
		checkErr(t, err)
		if err != nil {
			return
		}
		if c.Backend != nil && *c.Backend == old.Backend() {
			t.Fatalf("change set backend %v equals the old one", *c.Backend)
		}
		if c.Link != nil && *c.Link == old.LinkUp() {
			t.Fatalf("change set link %v equals the old one", *c.Link)
		}
	})
}
