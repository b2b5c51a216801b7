package netif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIntegrationSweep(t *testing.T) {
	n := newTestNetns(t)
	ctx := ctxT(t)
	n.veth(t, "p0", "p1")
	n.ip(t, "link", "add", "br0", "type", "bridge")

	// Devices nicplug does not own: untagged (one with nicplug's prefix),
	// tagged by somebody else, and a malformed nicplug tag.
	n.ip(t, "link", "add", "link", "p0", "name", "usermvt", "type", "macvtap")
	n.ip(t, "link", "add", "link", "p0", "name", "npmvtuser", "type", "macvtap")
	n.ip(t, "link", "add", "link", "p0", "name", "othertag", "type", "macvtap")
	n.ip(t, "link", "set", "othertag", "alias", "libvirt:vmB/net0")
	n.ip(t, "link", "add", "link", "p0", "name", "badtag", "type", "macvtap")
	n.ip(t, "link", "set", "badtag", "alias", "nicplug:vmB")

	var want []string // names Sweep must delete
	type wantLink struct{ Name, Kind, Parent, Master, VM, NIC, MAC string }
	var wantOwned []wantLink
	for i, o := range []Owner{{"vmA", "net0"}, {"vmB", "net0"}, {"vmA", "52:54:00:00:00:12"}, {"vmB", "net1"}} {
		mac := net.HardwareAddr{0x52, 0x54, 0, 0, 0, byte(0x10 + i)}
		var l *Link
		var err error
		if i < 3 {
			l, err = CreateMacvtap(ctx, &MacvtapConfig{Parent: "p0", Mode: MacvtapBridge, MAC: mac, Owner: o, Netns: n.Path})
		} else {
			l, err = CreateBridgeTap(ctx, &BridgeTapConfig{Bridge: "br0", MAC: mac, Owner: o, Netns: n.Path})
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Delete(ctx) })
		if o.VM == "vmB" {
			want = append(want, l.Name)
		}
		w := wantLink{Name: l.Name, Kind: KindMacvtap, Parent: "p0", VM: o.VM, NIC: o.NIC, MAC: mac.String()}
		if i == 3 {
			w = wantLink{Name: l.Name, Kind: KindTap, Master: "br0", VM: o.VM, NIC: o.NIC, MAC: TapMAC(mac).String()}
		}
		wantOwned = append(wantOwned, w)
	}

	owned, err := ListOwned(ctx, n.Path)
	if err != nil {
		t.Fatal(err)
	}
	var gotOwned []wantLink
	for _, l := range owned {
		gotOwned = append(gotOwned, wantLink{l.Name, l.Kind, l.Parent, l.Master, l.Owner.VM, l.Owner.NIC, l.MAC.String()})
	}
	byName := func(s []wantLink) { sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name }) }
	byName(wantOwned)
	byName(gotOwned)
	if diff := cmp.Diff(wantOwned, gotOwned); diff != "" {
		t.Errorf("ListOwned (-want +got):\n%s", diff)
	}

	if err := DeleteLink(ctx, n.Path, "npmvtuser"); !errors.Is(err, ErrNotOwned) {
		t.Errorf("DeleteLink of an untagged device: %v, want ErrNotOwned", err)
	}

	var asked []string
	got, err := Sweep(ctx, n.Path, func(o Owner) bool {
		asked = append(asked, o.String())
		return o.VM != "vmB"
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sweep deleted (-want +got):\n%s", diff)
	}
	if len(asked) != 4 {
		t.Errorf("alive asked about %v, want the 4 owned devices only", asked)
	}
	left := n.linkNames(t)
	for _, name := range []string{"usermvt", "npmvtuser", "othertag", "badtag", "p0", "p1", "br0"} {
		if !slices.Contains(left, name) {
			t.Errorf("Sweep removed %s, which nicplug does not own", name)
		}
	}
	for _, name := range want {
		if slices.Contains(left, name) {
			t.Errorf("Sweep left %s, whose owner is dead", name)
		}
	}
	if _, err := Sweep(ctx, n.Path, nil); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("Sweep with nil callback: %v, want os.ErrInvalid", err)
	}
}

// TestIntegrationBadInput checks that invalid input is refused with a clear
// error and leaves no device and no file descriptor behind.
func TestIntegrationBadInput(t *testing.T) {
	n := newTestNetns(t)
	ctx := ctxT(t)
	n.veth(t, "p0", "p1")
	taken, err := CreateMacvtap(ctx, &MacvtapConfig{Parent: "p0", MAC: mustMAC("52:54:00:00:00:99"), Owner: Owner{"vm", "net9"}, Netns: n.Path, Name: "npmvttaken"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Delete(ctx) })
	notNetns, err := os.CreateTemp("", "nicplug-notns-")
	if err != nil {
		t.Fatal(err)
	}
	notNetns.Close()
	t.Cleanup(func() { os.Remove(notNetns.Name()) })

	good := func() *MacvtapConfig {
		return &MacvtapConfig{Parent: "p0", Mode: MacvtapBridge, MAC: mustMAC("52:54:00:00:00:01"), Owner: Owner{"vm", "net0"}, Netns: n.Path}
	}
	tests := []struct {
		name   string
		edit   func(c *MacvtapConfig)
		kind   error
		substr string
	}{
		{"missing parent", func(c *MacvtapConfig) { c.Parent = "nosuch0" }, os.ErrNotExist, `parent "nosuch0" not found`},
		{"empty parent", func(c *MacvtapConfig) { c.Parent = "" }, os.ErrInvalid, "parent is missing"},
		{"name too long", func(c *MacvtapConfig) { c.Name = "npmvt0123456789ab" }, os.ErrInvalid, "longer than 15"},
		{"name with slash", func(c *MacvtapConfig) { c.Name = "a/b" }, os.ErrInvalid, "contains"},
		{"nil MAC", func(c *MacvtapConfig) { c.MAC = nil }, os.ErrInvalid, "MAC is missing"},
		{"short MAC", func(c *MacvtapConfig) { c.MAC = c.MAC[:4] }, os.ErrInvalid, "not 6"},
		{"multicast MAC", func(c *MacvtapConfig) { c.MAC = mustMAC("01:00:5e:00:00:01") }, os.ErrInvalid, "multicast"},
		{"zero MAC", func(c *MacvtapConfig) { c.MAC = mustMAC("00:00:00:00:00:00") }, os.ErrInvalid, "all zero"},
		{"unknown mode", func(c *MacvtapConfig) { c.Mode = 42 }, os.ErrInvalid, "unknown macvtap mode 42"},
		{"negative mode", func(c *MacvtapConfig) { c.Mode = -1 }, os.ErrInvalid, "unknown macvtap mode"},
		{"missing namespace", func(c *MacvtapConfig) { c.Netns = "/run/netns/nptest-none" }, os.ErrNotExist, "nptest-none"},
		{"not a namespace", func(c *MacvtapConfig) { c.Netns = notNetns.Name() }, os.ErrInvalid, "not a network namespace"},
		{"empty owner VM", func(c *MacvtapConfig) { c.Owner.VM = "" }, os.ErrInvalid, "owner VM is empty"},
		{"owner with slash", func(c *MacvtapConfig) { c.Owner.NIC = "a/b" }, os.ErrInvalid, "contains '/'"},
		{"owner too long", func(c *MacvtapConfig) { c.Owner.VM = strings.Repeat("v", 250) }, os.ErrInvalid, "at most 255"},
		{"name taken", func(c *MacvtapConfig) { c.Name = "npmvttaken" }, os.ErrExist, "already exists"},
	}
	before, fds := n.linkNames(t), openFDs(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.edit(cfg)
			l, err := CreateMacvtap(ctx, cfg)
			if err == nil {
				l.Delete(ctx)
				t.Fatal("CreateMacvtap succeeded")
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.substr) || !strings.HasPrefix(err.Error(), "netif: create macvtap") {
				t.Errorf("error %q: want one matching %v, starting with %q and containing %q", err, tt.kind, "netif: create macvtap", tt.substr)
			}
		})
	}
	if _, err := CreateMacvtap(ctx, nil); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("nil config: %v, want os.ErrInvalid", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := CreateMacvtap(canceled, good()); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v, want context.Canceled", err)
	}
	for _, q := range []int{-1, maxQueues + 1} {
		if _, err := taken.Open(ctx, &OpenOptions{Queues: q}); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("Open with %d queues: %v, want os.ErrInvalid", q, err)
		}
	}
	gone := &Link{Name: "npmvtgone", Index: 1000, Netns: n.Path, Kind: KindMacvtap}
	if _, err := gone.Open(ctx, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing macvtap: %v, want os.ErrNotExist", err)
	}
	replaced := &Link{Name: taken.Name, Index: taken.Index + 1, Netns: n.Path, Kind: KindMacvtap}
	if _, err := replaced.Open(ctx, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a macvtap with another ifindex: %v, want os.ErrNotExist", err)
	}
	if got := n.linkNames(t); !slices.Equal(before, got) {
		t.Errorf("links changed by bad input: %v -> %v", before, got)
	}
	checkNoNewFDs(t, fds, "bad input")
	if err := DeleteLink(ctx, n.Path, "p0"); !errors.Is(err, ErrNotOwned) {
		t.Errorf("DeleteLink of the veth: %v, want ErrNotOwned", err)
	}
	if err := DeleteLink(ctx, "/run/netns/nptest-none", "x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DeleteLink in a missing namespace: %v, want os.ErrNotExist", err)
	}
	if got, want := fmt.Sprint(len(n.linkNames(t))), fmt.Sprint(len(before)); got != want {
		t.Errorf("links after refused deletes: %s, want %s", got, want)
	}
}
