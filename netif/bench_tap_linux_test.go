package netif

import (
	"context"
	"testing"
)

// BenchmarkMoveSetMaster is one bridge move of a fixed tap as RTNL work:
// SetMaster from bridge A to bridge B (alternating), each op in a fresh
// netlink handle in the namespace, as every netif call does.
func BenchmarkMoveSetMaster(b *testing.B) {
	n := newNph1Netns(b)
	ctx := context.Background()
	n.bridge(b, "nph1brA", false)
	n.bridge(b, "nph1brB", false)
	tap, err := CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1tap", UID: -1, GID: -1, Owner: Owner{"vm", "net0"}, Netns: n.Path})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tap.Delete(ctx) })
	bridges := [2]string{"nph1brA", "nph1brB"}
	i := 0
	for b.Loop() {
		if err := SetMaster(ctx, n.Path, "nph1tap", bridges[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMoveRedirect is one redirect move of a fixed tap as RTNL work:
// AddRedirect replacing the tap's filter, macvlan 1 ↔ macvlan 2.
func BenchmarkMoveRedirect(b *testing.B) {
	n := newNph1Netns(b)
	ctx := context.Background()
	n.veth(b, "nph1p0", "nph1p1")
	owner := Owner{"vm", "net0"}
	tap, err := CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1tap", UID: -1, GID: -1, Owner: owner, Netns: n.Path})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tap.Delete(ctx) })
	targets := [2]string{"nph1mvl1", "nph1mvl2"}
	for i, name := range targets {
		l, err := CreateMacvlan(ctx, &MacvlanConfig{Name: name, Parent: "nph1p0", Mode: MacvtapBridge, MAC: mustMAC("52:54:00:00:ff:0" + string(rune('1'+i))), Owner: owner, Netns: n.Path})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Delete(ctx) })
	}
	if err := AddRedirect(ctx, n.Path, "nph1tap", targets[1]); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if err := AddRedirect(ctx, n.Path, "nph1tap", targets[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
