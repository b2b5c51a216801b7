// Command demo is nicplug's main demo (`make demo`, or `go run ./demo`): it
// boots a real guest under QEMU with its NIC's cable unplugged
// (<interface type='none'>), plugs it into QEMU's user network, moves it to a
// macvtap on a LAN of its own when run as root, unplugs it, and prints a
// timeline of what nicplug did and what the guest saw, with latencies.
//
// Usage:
//
//	go run ./demo [--keep-assets-dir DIR] [--verbose] [--carrier-hold D]
//
// The guest's kernel and initramfs are built on first use (Debian's cloud
// kernel, fetched with apt-get download) and kept in DIR, by default
// $NICPLUG_GUEST_CACHE or ~/.cache/nicplug/guest. --verbose adds the guest's
// console and nicplug's step log. --carrier-hold is how long the link stays
// down while the NIC switches networks (the demo guest notices drops of
// 10 ms; NetworkManager guests need 6-7 s).
//
// Without root the macvtap part is skipped, and the demo says so. Everything
// it creates (QEMU, network namespaces, links, DHCP server) is removed on
// exit, also on Ctrl-C. It exits 0 on success, else 1 with a one-line error.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	opts := options{}
	flag.StringVar(&opts.AssetsDir, "keep-assets-dir", "", "directory that keeps the built guest kernel and initramfs between runs (default $NICPLUG_GUEST_CACHE or ~/.cache/nicplug/guest)")
	flag.BoolVar(&opts.Verbose, "verbose", false, "also print the guest's console and nicplug's step log")
	flag.DurationVar(&opts.CarrierHold, "carrier-hold", defaultCarrierHold, "how long the NIC's link stays down while it switches networks")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./demo [flags]\n\nBoots a guest with an unplugged NIC, plugs, switches and unplugs it live.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, opts, os.Stdout)
	interrupted := ctx.Err() != nil
	stop()
	if err != nil {
		if interrupted {
			err = fmt.Errorf("interrupted, cleaned up (%w)", err)
		}
		fmt.Fprintf(os.Stderr, "demo: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(1)
	}
}

// defaultCarrierHold is long enough for the demo guest (which polls carrier
// every 10 ms) to see every switch as a cable pulled and re-plugged.
const defaultCarrierHold = 300 * time.Millisecond
