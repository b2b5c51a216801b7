package guest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
)

func ExampleParseEvent() {
	ev, ok, err := guest.ParseEvent("NICPLUG-EV lease 10.0.2.15/24 router=10.0.2.2 dns=10.0.2.3 lease=86400 up=1.90")
	if err != nil || !ok {
		log.Fatal(ok, err)
	}
	up, _ := ev.Uptime()
	fmt.Println(ev.Kind, ev.Arg(0), ev.Fields["router"], up)
	fmt.Println(guest.Match("lease")(ev), guest.Match("carrier", "1")(ev))
	// Output:
	// lease 10.0.2.15/24 10.0.2.2 1.9s
	// true false
}

// Boot a guest whose NIC is plugged into slirp, wait for its lease and ping
// an address from inside.
func ExampleBoot() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	assets, err := guest.Build(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	g, err := guest.Boot(ctx, &guest.Config{
		Assets:    assets,
		ExtraArgs: []string{"-netdev", "user,id=u0", "-device", "virtio-net-pci,netdev=u0,id=net0"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	lease, err := g.WaitEvent(ctx, 0, guest.Match(guest.KindLease))
	if err != nil {
		log.Fatal(err, "\n", g.Console())
	}
	fmt.Println("lease", lease.Arg(0), "router", lease.Fields["router"])
	out, status, err := g.Exec(ctx, "ping -c 1 -W 2 10.0.2.2")
	fmt.Println(status, err, out)
}

// In a test: plug the NIC and wait for the lease that follows.
func ExampleGuest_WaitEvent() {
	var g *guest.Guest // from guest.Start(t, &guest.Config{Paused: true, …})
	ctx := context.Background()
	from := g.Seq()
	// … QMP set_link {"name":"net0","up":true} …
	lease, err := g.WaitEvent(ctx, from, guest.Match(guest.KindLease))
	fmt.Println(lease.Arg(0), err)
}

// Print events as they arrive.
func ExampleGuest_Watch() {
	var g *guest.Guest // from guest.Boot or guest.Start
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ev, err := range g.Watch(ctx, 0) {
		if err != nil {
			break
		}
		fmt.Println(ev.Time.Format(time.TimeOnly), ev.Raw)
	}
}
