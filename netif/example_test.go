package netif_test

import (
	"context"
	"fmt"
	"net"

	"github.com/nicplug/nicplug/netif"
)

func ExampleOwner() {
	o := netif.Owner{VM: "web1", NIC: "net0"}
	fmt.Println(o)
	back, ok := netif.ParseOwner(o.String())
	fmt.Println(back.VM, back.NIC, ok)
	_, ok = netif.ParseOwner("some admin's note")
	fmt.Println(ok)
	// Output:
	// nicplug:web1/net0
	// web1 net0 true
	// false
}

func ExampleParseMacvtapMode() {
	for _, s := range []string{"", "bridge", "passthrough", "source"} {
		m, err := netif.ParseMacvtapMode(s)
		fmt.Println(m, err)
	}
	// Output:
	// vepa <nil>
	// bridge <nil>
	// passthrough <nil>
	// vepa netif: parse macvtap mode: unknown macvtap mode "source"
}

func ExampleTapMAC() {
	guest, _ := net.ParseMAC("52:54:00:0f:7d:ad")
	fmt.Println(netif.TapMAC(guest))
	// Output: fe:54:00:0f:7d:ad
}

// Create a macvtap for a guest NIC, open two queues for QEMU, and delete it.
func ExampleCreateMacvtap() {
	ctx := context.Background()
	mac, _ := net.ParseMAC("52:54:00:0f:7d:ad")
	l, err := netif.CreateMacvtap(ctx, &netif.MacvtapConfig{
		Parent: "eth0",
		Mode:   netif.MacvtapBridge,
		MAC:    mac,
		Owner:  netif.Owner{VM: "web1", NIC: "net0"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Delete(ctx)
	files, err := l.Open(ctx, &netif.OpenOptions{Queues: 2, VnetHdr: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Pass files to QEMU with getfd (SCM_RIGHTS), then close them here.
	for _, f := range files {
		f.Close()
	}
}

// Remove the devices of VMs that no longer exist, e.g. after a crash.
func ExampleSweep() {
	running := map[string]bool{"web1": true}
	deleted, err := netif.Sweep(context.Background(), "", func(o netif.Owner) bool {
		return running[o.VM]
	})
	fmt.Println(deleted, err)
}
