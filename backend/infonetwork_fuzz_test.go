package backend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/backend"
)

// qemuID matches the net client names QEMU can print: ids QEMU accepts
// (a letter, then letters, digits, '-', '.', '_') and the names it makes
// up for NICs without one ("virtio-net-pci.0").
var qemuID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)

// FuzzParseInfoNetwork: ParseInfoNetwork never panics, and what it parses
// from any text whose names QEMU could print, written back in QEMU's
// format, parses to the same thing.
func FuzzParseInfoNetwork(f *testing.F) {
	files, _ := filepath.Glob("testdata/info-network-*.txt")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("hub 0\r\n \\ hp: net0: index=0,type=nic,model=e1000\r\nx: index=1,type=user\r\n \\ y: index=0,type=hubport\r\nfilters:\r\n  - f: type=filter-dump\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		ni, err := backend.ParseInfoNetwork(text)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "backend: info network line ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		if !qemuNames(ni) {
			return
		}
		again, err := backend.ParseInfoNetwork(render(ni))
		if err != nil {
			t.Fatalf("rendered text does not parse: %v\n%s", err, render(ni))
		}
		if diff := cmp.Diff(ni, again); diff != "" {
			t.Fatalf("parse(render(parse(text))) differs (-first +second):\n%s\ntext %q", diff, text)
		}
	})
}

// qemuNames reports whether every name in ni is one QEMU could print.
func qemuNames(ni *backend.NetworkInfo) bool {
	ok := func(c *backend.Client) bool {
		return c == nil || qemuID.MatchString(c.Name) && qemuID.MatchString(c.Type) && (c.Peer == nil || qemuID.MatchString(c.Peer.Name) && qemuID.MatchString(c.Peer.Type))
	}
	for _, h := range ni.Hubs {
		for _, p := range h.Ports {
			if !qemuID.MatchString(p.Name) || !ok(p.Peer) {
				return false
			}
		}
	}
	for i := range ni.Clients {
		if !ok(&ni.Clients[i]) {
			return false
		}
	}
	return true
}

// render writes ni as QEMU 7.2 prints `info network`.
func render(ni *backend.NetworkInfo) string {
	var b strings.Builder
	line := func(c *backend.Client) string {
		s := fmt.Sprintf("%s: index=%d,type=%s", c.Name, c.Index, c.Type)
		if c.Info != "" {
			s += "," + c.Info
		}
		return s
	}
	for _, h := range ni.Hubs {
		fmt.Fprintf(&b, "hub %d\r\n", h.ID)
		for _, p := range h.Ports {
			if p.Peer == nil {
				fmt.Fprintf(&b, " \\ %s\r\n", p.Name)
			} else {
				fmt.Fprintf(&b, " \\ %s: %s\r\n", p.Name, line(p.Peer))
			}
		}
	}
	for i := range ni.Clients {
		c := &ni.Clients[i]
		fmt.Fprintf(&b, "%s\r\n", line(c))
		if c.Peer != nil {
			fmt.Fprintf(&b, " \\ %s\r\n", line(c.Peer))
		}
	}
	return b.String()
}
