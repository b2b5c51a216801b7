package netif

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"
)

// leakCycles is how many create/open/delete cycles the leak test runs:
// about 1.5 ms each here, so 1000 take a few seconds even under -race.
const leakCycles = 1000

// maxExtraThreads is how many more OS threads the runtime may legitimately
// have after the leak test (idle Ms it keeps); far below one per cycle.
const maxExtraThreads = 32

func TestIntegrationNoLeak(t *testing.T) {
	n := newTestNetns(t)
	n.veth(t, "p0", "p1")
	cycles := leakCycles
	if testing.Short() {
		cycles = 100
	}
	cycle := func(i int) {
		// A deadline per cycle, not for the run: on a loaded machine the
		// cycles are slow, which is no leak.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mac := net.HardwareAddr{0x52, 0x54, 0, 0, byte(i >> 8), byte(i)}
		l, err := CreateMacvtap(ctx, &MacvtapConfig{Parent: "p0", Mode: MacvtapBridge, MAC: mac, Owner: Owner{"vm", "net0"}, Netns: n.Path})
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		files, err := l.Open(ctx, &OpenOptions{Queues: 1 + i%4, VnetHdr: i%2 == 0})
		if err != nil {
			l.Delete(ctx)
			t.Fatalf("cycle %d: %v", i, err)
		}
		// Half the cycles close the files themselves (as after handing
		// them to QEMU); Delete closes the others.
		if i%2 == 0 {
			for _, f := range files {
				f.Close()
			}
		}
		if err := l.Delete(ctx); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
	}
	cycle(0) // warm up: first use of netlink, epoll, threads
	links, fds, threads := n.linkNames(t), openFDs(t), countThreads(t)
	for i := 1; i <= cycles; i++ {
		cycle(i)
	}
	if got := n.linkNames(t); !slices.Equal(links, got) {
		t.Errorf("links after %d cycles: %v, want %v", cycles, got, links)
	}
	checkNoNewFDs(t, fds, fmt.Sprint(cycles, " cycles"))
	// Every Open runs on a thread that is thrown away: they must not pile up.
	if got := countThreads(t); got > threads+maxExtraThreads {
		t.Errorf("threads after %d cycles: %d, was %d: throw-away threads are kept", cycles, got, threads)
	}
}
