package nicplug_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
)

// BenchmarkApply plans and applies update cycles against a real QEMU and
// reports the mean apply time of each plan kind (ns/op is per cycle).
func BenchmarkApply(b *testing.B) {
	cycles := []struct {
		name string
		root bool
		seq  []string
	}{
		{"user", false, []string{xUser, xUDP, xUserDown, xNone}},
		{"direct", true, []string{xDirect, xBridge, xNone}},
	}
	for _, c := range cycles {
		b.Run(c.name, func(b *testing.B) {
			if c.root && os.Geteuid() != 0 {
				b.Skip("skipping, not root")
			}
			var ns *testNetns
			if c.root {
				ns = newTestNetns(b)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			r := newRig(b, ns, nil, "bench", xNone)
			if err := r.vm.Start(ctx); err != nil {
				b.Fatal(err)
			}
			total := map[nicplug.PlanKind]time.Duration{}
			count := map[nicplug.PlanKind]int{}
			for b.Loop() {
				for _, x := range c.seq {
					p, err := r.vm.PlanUpdate(ctx, []byte(x))
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					if err := r.vm.Apply(ctx, p); err != nil {
						b.Fatal(err)
					}
					total[p.Kind] += time.Since(start)
					count[p.Kind]++
				}
			}
			for k, d := range total {
				b.ReportMetric(float64(d.Microseconds())/float64(count[k]), string(k)+"-µs/apply")
			}
		})
	}
}
