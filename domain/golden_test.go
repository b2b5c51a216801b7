package domain_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testResolver resolves the networks the test data uses.
func testResolver(network, portgroup string) (domain.Backend, error) {
	switch {
	case network == "default" && portgroup == "":
		return domain.Backend{Type: domain.TypeBridge, Bridge: "virbr0"}, nil
	case network == "lan" && portgroup == "trusted":
		return domain.Backend{Type: domain.TypeDirect, Dev: "eth0", Mode: "bridge"}, nil
	}
	return domain.Backend{}, fmt.Errorf("no network %q with portgroup %q", network, portgroup)
}

var testOpts = &domain.ParseOptions{Resolver: testResolver}

// describe renders everything the package derives from a domain.
func describe(d *domain.Domain) string {
	var b strings.Builder
	taps := map[string]domain.TapArgs{}
	for _, n := range d.NICs {
		link := "down"
		if n.LinkUp() {
			link = "up"
		}
		fmt.Fprintf(&b, "nic %d: id=%s hub=%d hubport=%s spelling=%s backend=%s link=%s mac=%s model=%s qemu=%s\n",
			n.Index, n.DeviceID(), n.HubID(), n.HubPortID(), n.Spelling, n.Backend(), link, n.MAC(), n.Model(), n.QEMUModel())
		if n.Datapath() == domain.DatapathTap {
			fmt.Fprintf(&b, "  datapath=tap peer=%s queues=%d vhost=%v\n", n.PeerID(), n.Queues(), n.Vhost())
			taps[n.DeviceID()] = domain.TapArgs{Ifname: "tap-" + n.DeviceID()}
		}
	}
	args, err := d.QEMUArgsFor(&domain.ArgsOptions{Taps: taps})
	if err != nil {
		fmt.Fprintf(&b, "args error: %v\n", err)
	} else {
		b.WriteString("args:\n")
		for _, a := range args {
			fmt.Fprintf(&b, "  %s\n", a)
		}
	}
	b.WriteString("links:")
	for _, l := range d.InitialLinks() {
		fmt.Fprintf(&b, " %s=%v", l.DeviceID, l.Up)
	}
	b.WriteString("\nxml:\n")
	out, err := d.Marshal()
	if err != nil {
		fmt.Fprintf(&b, "marshal error: %v\n", err)
	} else {
		b.Write(out)
		b.WriteString("\n")
	}
	return b.String()
}

// TestGolden parses every testdata/golden/*.xml and compares what the
// package derives (or the error) with the .golden file next to it. Files
// named ok-* must parse, err-* must fail. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			d, err := domain.ParseDomain(in, testOpts)
			switch {
			case err != nil && strings.HasPrefix(name, "ok-"):
				t.Fatalf("ParseDomain: %v", err)
			case err == nil && strings.HasPrefix(name, "err-"):
				t.Fatalf("ParseDomain succeeded, want an error")
			case err != nil:
				if !strings.HasPrefix(err.Error(), "domain: ") {
					t.Errorf("error %q does not start with \"domain: \"", err)
				}
				got = "error: " + err.Error() + "\n"
			default:
				got = describe(d)
			}
			golden := strings.TrimSuffix(f, ".xml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}
