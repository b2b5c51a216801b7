package guest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/qmp"
)

func TestZZSignal(t *testing.T) {
	for _, stack := range []guest.Stack{"", guest.StackNetworkd, guest.StackNetworkManager} {
		t.Run(string(stack)+"x", func(t *testing.T) {
			cfg := &guest.Config{ExtraArgs: []string{"-netdev", "user,id=u0", "-device", "virtio-net-pci,netdev=u0,mac=52:54:00:0f:7d:ad,id=net0"}}
			var g *guest.Guest
			if stack == "" {
				g = guest.Start(t, cfg)
			} else {
				g = guest.StartDistro(t, stack, cfg)
			}
			kind := guest.KindAddr
			if stack == "" {
				kind = guest.KindLease
			}
			waitEv(t, g, 0, kind)
			ctx := context.Background()
			c, err := qmp.Dial(ctx, g.QMPSocket(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sub := c.Subscribe(ctx, 100)
			rx := func() string {
				raw, err := c.Execute(ctx, "query-rx-filter", map[string]string{"name": "net0"})
				if err != nil {
					t.Fatal(err)
				}
				var v []map[string]any
				json.Unmarshal(raw, &v)
				b, _ := json.Marshal(v[0]["multicast-table"])
				return string(b)
			}
			quiet := func() {
				for {
					select {
					case <-sub.Events():
						rx()
					case <-time.After(3 * time.Second):
						return
					}
				}
			}
			first := func(d time.Duration) time.Duration {
				t0 := time.Now()
				deadline := time.After(d)
				for {
					select {
					case ev := <-sub.Events():
						if ev.Name == "NIC_RX_FILTER_CHANGED" {
							return time.Since(t0)
						}
					case <-deadline:
						return -1
					}
				}
			}
			for round := range 5 {
				quiet()
				before := rx()
				from := g.Seq()
				t0 := time.Now()
				c.SetLink(ctx, "net0", false)
				d := first(10 * time.Second)
				after := rx()
				del := "none"
				for _, ev := range g.Events()[from:] {
					if ev.Kind == guest.KindDelAddr || ev.Kind == guest.KindDeconfig {
						del = ev.Time.Sub(t0).String()
						break
					}
				}
				time.Sleep(time.Until(t0.Add(10 * time.Second)))
				t.Logf("RESULT %s round %d: link down → first NIC_RX_FILTER_CHANGED %v (−1: none in 10 s); guest dropped its address at %s; mc changed %v (%s → %s)", stack, round, d, del, before != after, before, after)
				from = g.Seq()
				c.SetLink(ctx, "net0", true)
				waitEv(t, g, from, kind)
			}
		})
	}
}
