package nicplug_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// tapOwner reads the tap's owner and group from the namespace's sysfs
// ("-1" for none).
func (n *testNetns) tapOwner(t testing.TB, tap string) string {
	t.Helper()
	var ids []string
	for _, attr := range []string{"owner", "group"} {
		out, err := exec.Command("ip", "netns", "exec", n.name, "cat", "/sys/class/net/"+tap+"/"+attr).CombinedOutput()
		if err != nil {
			t.Fatalf("read %s's %s: %v: %s", tap, attr, err, out)
		}
		ids = append(ids, strings.TrimSpace(string(out)))
	}
	return strings.Join(ids, ":")
}

// TestIntegrationPrepareTapsAgain: PrepareTaps run again keeps the fixed
// tap and gives it the user asked for now (`nicplug qemu-args` first
// without --tap-user, then with it, leaves the tap to that user); run
// again as asked it changes nothing; asked to take a user's group away it
// refuses with a one-line error naming the NIC, and deletes nothing.
func TestIntegrationPrepareTapsAgain(t *testing.T) {
	ns := newTestNetns(t)
	ctx := ctxT(t)
	dom, err := domain.ParseDomain(domainXML("vmtaps", tNone), nil)
	if err != nil {
		t.Fatal(err)
	}
	tap := backend.TapName("vmtaps", "net0")
	prepare := func(user *nicplug.TapUser) error {
		taps, err := nicplug.PrepareTaps(ctx, dom, &nicplug.TapOptions{Netns: ns.path, User: user})
		if err == nil && taps.Names()["net0"] != tap {
			t.Fatalf("taps %v, want net0's %s", taps.Names(), tap)
		}
		return err
	}
	t.Cleanup(func() {
		if _, err := nicplug.DeleteHostLinks(context.Background(), backend.NewNetifHost(ns.path), "vmtaps"); err != nil {
			t.Error(err)
		}
	})
	if err := prepare(nil); err != nil {
		t.Fatal(err)
	}
	if got := ns.tapOwner(t, tap); got != "0:-1" {
		t.Errorf("created without a user: owner:group %s, want 0:-1", got)
	}
	nobody := &nicplug.TapUser{UID: 65534, GID: 65534}
	for range 2 {
		if err := prepare(nobody); err != nil {
			t.Fatal(err)
		}
		if got := ns.tapOwner(t, tap); got != "65534:65534" {
			t.Errorf("again with user 65534: owner:group %s, want 65534:65534", got)
		}
	}
	links, err := backend.NewNetifHost(ns.path).ListOwned(ctx, "vmtaps")
	if err != nil || len(links) != 1 || links[0].Name != tap {
		t.Errorf("links %v, %v; want the one tap", links, err)
	}

	err = prepare(nil)
	if err == nil || !errors.Is(err, os.ErrInvalid) || !strings.HasPrefix(err.Error(), "nicplug: prepare taps: NIC net0: netif: update fixed tap "+tap+": ") ||
		!strings.Contains(err.Error(), "which cannot be removed") || strings.Contains(err.Error(), "\n") {
		t.Errorf("again without a user: %v, want a one-line error naming net0 and the group that cannot be removed", err)
	}
	if got := ns.tapOwner(t, tap); got != "65534:65534" {
		t.Errorf("after the refusal: owner:group %s, want 65534:65534", got)
	}
	if links, err := backend.NewNetifHost(ns.path).ListOwned(ctx, "vmtaps"); err != nil || len(links) != 1 {
		t.Errorf("after the refusal: links %v, %v; want the tap kept", links, err)
	}
}
