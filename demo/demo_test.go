package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationDemo runs the demo (`go run ./demo`, the README's first
// command) and checks its timeline shows every step the guest must see.
func TestIntegrationDemo(t *testing.T) {
	testenv.RequireQEMU(t)
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		testenv.Skip(t, "dpkg-deb not found (not a Debian host): cannot build the guest")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, options{CarrierHold: defaultCarrierHold}, &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	want := []string{
		`boot: QEMU paused \(-S\), NIC net0 type=none`,
		`guest: carrier 0`,
		`plan: plug user \(3 steps, kind plug\)`,
		`guest: carrier 1`,
		`guest: lease 10\.0\.2\.15/24 router 10\.0\.2\.2`,
		`guest: ping 10\.0\.2\.2 ok`,
	}
	if os.Geteuid() == 0 {
		want = append(want,
			`plan: switch user → direct \(\d+ steps, kind switch\)`,
			`guest: lease 192\.168\.77\.\d+/24 router 192\.168\.77\.1`,
			`guest: ping 192\.168\.77\.1 ok`,
			`plan: switch direct → user`,
			`guest: lease 10\.0\.2\.15/24`,
		)
	} else {
		want = append(want, `skipping the macvtap part: not root`)
	}
	want = append(want,
		`plan: unplug \(3 steps, kind unplug\)`,
		`guest: carrier 0`,
		`guest: deconfig`,
		`read back: net0 mac 52:54:00:0f:7d:ad hub 0, no backend, link down`,
		`(?m)^  unplug +\S+ +\S+ +- +- +- +-$`,
	)
	// Each line must come after the previous one.
	rest := out.String()
	for _, w := range want {
		loc := regexp.MustCompile(w).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("demo output lacks %q after the previous expected line", w)
		}
		rest = rest[loc[1]:]
	}
	if strings.Contains(out.String(), "guest: error") {
		t.Errorf("the guest reported an error")
	}
}
