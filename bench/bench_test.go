package bench

import (
	"context"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

// BenchmarkPlanner measures Planner.Update per plan kind.
func BenchmarkPlanner(b *testing.B) {
	p := &nicplug.Planner{VM: "bench", CarrierHold: nicplug.NoCarrierHold}
	for _, c := range planCases() {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Update(c.live, c.cur, c.want); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQueryStatus compares a qmp.Client round trip with a raw socket
// loop on the same QEMU.
func BenchmarkQueryStatus(b *testing.B) {
	testenv.RequireQEMU(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	q, err := startQEMU(ctx, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer q.kill()
	b.Run("client", func(b *testing.B) {
		c, err := qmp.Dial(ctx, q.sockets[0], nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		for b.Loop() {
			if _, err := c.QueryStatus(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		raw, err := dialRaw(ctx, q.sockets[1])
		if err != nil {
			b.Fatal(err)
		}
		defer raw.close()
		line := []byte(`{"execute":"query-status"}` + "\n")
		for b.Loop() {
			if _, err := raw.do(line); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPlugUnplug measures VM.UpdateDevice plug and unplug of slirp on
// a guest-less QEMU (one op = plug + unplug).
func BenchmarkPlugUnplug(b *testing.B) {
	testenv.RequireQEMU(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, err := startManaged(ctx, "bench", benchMAC, "")
	if err != nil {
		b.Fatal(err)
	}
	defer m.close()
	for b.Loop() {
		for _, be := range []string{"user", "none"} {
			if err := m.vm.UpdateDevice(ctx, []byte(ifaceXML(benchMAC, be, ""))); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDatapathMove measures, per datapath, one cycle of moves
// bridge→direct→bridge→bridge→bridge (four VM.UpdateDevice plans and
// applies, no carrier hold) on a guest-less QEMU in a private namespace.
func BenchmarkDatapathMove(b *testing.B) {
	testenv.RequireRoot(b)
	testenv.RequireQEMU(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n, err := newDPNet(false)
	if err != nil {
		b.Fatal(err)
	}
	defer n.close()
	mon, err := newRTNLMonitor(n.path)
	if err != nil {
		b.Fatal(err)
	}
	defer mon.close()
	for _, c := range []struct {
		name string
		tap  bool
	}{{"hub", false}, {"tap", true}} {
		b.Run(c.name, func(b *testing.B) {
			d, err := startDPVM(ctx, "nph3b"+c.name, dpMACTap, n.path, c.tap)
			if err != nil {
				b.Fatal(err)
			}
			defer d.close()
			if err := d.move(ctx, mon, dpB0, nil); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				for _, want := range []domain.Backend{dpDirect, dpB0, dpB1, dpB0} {
					if err := d.move(ctx, mon, want, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := d.move(ctx, mon, bNone, nil); err != nil {
				b.Fatal(err)
			}
		})
	}
}
