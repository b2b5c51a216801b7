package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/testenv"
)

// nph1Netns creates a fresh namespace named nph1-…, deleted in t.Cleanup,
// and returns its name.
func nph1Netns(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	var b [4]byte
	rand.Read(b[:])
	name := "nph1-" + hex.EncodeToString(b[:])
	ip(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name
}

func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestIntegrationNetifTapHost drives the tap datapath through TapHost: a
// fixed tap with two queues joined to a macvlan by a redirect pair, read
// back, moved to a bridge, listed with kinds and modes, and deleted; and
// refusals that leave nothing behind.
func TestIntegrationNetifTapHost(t *testing.T) {
	ns := nph1Netns(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ip(t, "-n", ns, "link", "add", "nph1p0", "type", "veth", "peer", "name", "nph1p1")
	ip(t, "-n", ns, "link", "set", "nph1p0", "up")
	ip(t, "-n", ns, "link", "add", "nph1br", "type", "bridge")
	var h TapHost = NewNetifHost("/run/netns/" + ns)
	owner := Owner{VM: "vm", NIC: "net0"}
	guest := "52:54:00:0f:7d:ad"

	if err := h.CreateFixedTap(ctx, FixedTapConfig{Name: "nph1tap", MAC: guest, Queues: 2, UID: -1, GID: -1, Owner: owner}); err != nil {
		t.Fatal(err)
	}
	if err := h.CreateFixedTap(ctx, FixedTapConfig{Name: "nph1tap", Queues: 2, UID: -1, GID: -1, Owner: owner}); !errors.Is(err, os.ErrExist) {
		t.Errorf("second CreateFixedTap: %v, want os.ErrExist", err)
	}
	files, err := h.OpenTapQueues(ctx, "nph1tap", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		f.Close()
	}
	if len(files) != 2 {
		t.Errorf("OpenTapQueues: %d files, want 2", len(files))
	}
	if _, err := h.OpenTapQueues(ctx, "nph1tap", 0); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("OpenTapQueues 0: %v, want os.ErrInvalid", err)
	}
	if err := h.CreateMacvlan(ctx, MacvlanConfig{Name: "nph1mvl", Parent: "nph1p0", Mode: "bridge", MAC: guest, Owner: owner}); err != nil {
		t.Fatal(err)
	}
	if err := h.AddRedirect(ctx, "nph1tap", "nph1mvl"); err != nil {
		t.Fatal(err)
	}
	if err := h.AddRedirect(ctx, "nph1mvl", "nph1tap"); err != nil {
		t.Fatal(err)
	}
	if p, err := h.TapPlug(ctx, "nph1tap"); err != nil || p.Redirect != "nph1mvl" || !p.Back || p.Master != "" {
		t.Errorf("TapPlug: %+v, %v", p, err)
	}
	for _, from := range []string{"nph1tap", "nph1mvl"} {
		if err := h.DelRedirect(ctx, from); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.DelRedirect(ctx, "nph1tap"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DelRedirect without a redirect: %v, want os.ErrNotExist", err)
	}
	if err := h.SetMaster(ctx, "nph1tap", "nph1br"); err != nil {
		t.Fatal(err)
	}
	if p, err := h.TapPlug(ctx, "nph1tap"); err != nil || p.Master != "nph1br" || p.Redirect != "" || p.VLAN != 0 {
		t.Errorf("TapPlug on the bridge: %+v, %v", p, err)
	}
	if err := h.SetAccessVLAN(ctx, "nph1tap", 10); !errors.Is(err, os.ErrInvalid) || !strings.Contains(err.Error(), "vlan_filtering 1") {
		t.Errorf("SetAccessVLAN on a bridge that does not filter VLANs: %v", err)
	}
	if err := h.SetMaster(ctx, "nph1p0", "nph1br"); err == nil {
		t.Error("SetMaster of a foreign veth succeeded")
	}
	hh := h.(*NetifHost)
	if err := hh.CreateBridgeTap(ctx, BridgeTapConfig{Name: "nph1btap", Bridge: "nph1br", Owner: owner, VLAN: 10}); err == nil {
		t.Error("CreateBridgeTap with a VLAN on a bridge that does not filter VLANs succeeded")
	}
	if _, err := h.TapPlug(ctx, "nph1btap"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused bridge tap is there: %v", err)
	}
	if err := h.CreateMacvlan(ctx, MacvlanConfig{Name: "nph1mvl2", Parent: "nph1p0", Mode: "bogus", MAC: guest, Owner: owner}); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("CreateMacvlan with mode bogus: %v, want os.ErrInvalid", err)
	}
	if err := h.CreateFixedTap(ctx, FixedTapConfig{Name: "nph1tap2", MAC: "not-a-mac", Owner: owner}); err == nil {
		t.Error("CreateFixedTap with a bad MAC succeeded")
	}

	owned, err := hh.ListOwned(ctx, "vm")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range owned {
		got = append(got, l.Name+" "+l.Kind+" "+l.Parent+" "+l.Mode+" "+l.Master)
	}
	slices.Sort(got)
	want := []string{"nph1mvl macvlan nph1p0 bridge ", "nph1tap tap   nph1br"}
	if !slices.Equal(got, want) {
		t.Errorf("ListOwned: %q, want %q", got, want)
	}
	for _, name := range []string{"nph1tap", "nph1mvl"} {
		if err := hh.DeleteLink(ctx, name); err != nil {
			t.Error(err)
		}
	}
	if out := ip(t, "-n", ns, "-o", "link", "show"); strings.Contains(out, "nph1tap") || strings.Contains(out, "nph1mvl") || strings.Contains(out, "nph1btap") {
		t.Errorf("links left:\n%s", out)
	}
}
