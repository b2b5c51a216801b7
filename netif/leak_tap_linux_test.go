package netif

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// tapLeakCycles is how many tap-datapath cycles TestIntegrationTapNoLeak runs.
const tapLeakCycles = 150

// TestIntegrationTapNoLeak runs full tap-datapath cycles (fixed tap with
// queues, macvlan, redirect pair, bridge move, teardown) with failing
// calls in between, and checks no link, qdisc, filter, descriptor or
// thread is left behind.
func TestIntegrationTapNoLeak(t *testing.T) {
	n := newNph1Netns(t)
	n.veth(t, "nph1p0", "nph1p1")
	n.bridge(t, "nph1br", false)
	cycles := tapLeakCycles
	if testing.Short() {
		cycles = 50
	}
	owner := Owner{"vm", "net0"}
	cycle := func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mac := net.HardwareAddr{0x52, 0x54, 0, 1, byte(i >> 8), byte(i)}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
		}
		refused := func(err error) {
			t.Helper()
			if err == nil {
				t.Fatalf("cycle %d: a call that must fail succeeded", i)
			}
		}
		tap, err := CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1tap", MAC: mac, Queues: 1 + i%3, UID: -1, GID: -1, Owner: owner, Netns: n.Path})
		must(err)
		_, err = tap.Open(ctx, &OpenOptions{Queues: 1 + i%3, VnetHdr: true})
		must(err)
		mvl, err := CreateMacvlan(ctx, &MacvlanConfig{Name: "nph1mvl", Parent: "nph1p0", Mode: MacvtapBridge, MAC: mac, Owner: owner, Netns: n.Path})
		must(err)
		_, err = CreateMacvlan(ctx, &MacvlanConfig{Parent: "nph1p0", Mode: MacvtapBridge, MAC: mac, Owner: owner, Netns: n.Path})
		refused(err) // MAC taken
		_, err = CreateMacvlan(ctx, &MacvlanConfig{Parent: "nph1none", MAC: mac, Owner: owner, Netns: n.Path})
		refused(err)
		_, err = CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1tap", Owner: owner, Netns: n.Path})
		refused(err)
		must(AddRedirect(ctx, n.Path, "nph1tap", "nph1mvl"))
		must(AddRedirect(ctx, n.Path, "nph1mvl", "nph1tap"))
		refused(AddRedirect(ctx, n.Path, "nph1p0", "nph1p1"))
		must(AddRedirect(ctx, n.Path, "nph1tap", "nph1p0")) // replace
		_, err = ReadTapPlug(ctx, n.Path, "nph1tap")
		must(err)
		must(DelRedirect(ctx, n.Path, "nph1tap"))
		must(DelRedirect(ctx, n.Path, "nph1mvl"))
		refused(DelRedirect(ctx, n.Path, "nph1mvl"))
		must(SetMaster(ctx, n.Path, "nph1tap", "nph1br"))
		refused(SetMaster(ctx, n.Path, "nph1tap", "nph1p1"))
		refused(SetMaster(ctx, n.Path, "nph1tap", "nph1nobr"))
		refused(SetAccessVLAN(ctx, n.Path, "nph1tap", 10))
		refused(SetAccessVLAN(ctx, n.Path, "nph1tap", 5000))
		must(SetMaster(ctx, n.Path, "nph1tap", ""))
		must(mvl.Delete(ctx))
		must(tap.Delete(ctx))
	}
	cycle(0)
	before, fds, threads := n.state(t), openFDs(t), countThreads(t)
	for i := 1; i <= cycles; i++ {
		cycle(i)
	}
	n.checkState(t, before, fmt.Sprint(cycles, " cycles"))
	checkNoNewFDs(t, fds, fmt.Sprint(cycles, " cycles"))
	if got := countThreads(t); got > threads+maxExtraThreads {
		t.Errorf("threads after %d cycles: %d, was %d", cycles, got, threads)
	}
}
