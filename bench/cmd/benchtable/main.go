// Command benchtable runs nicplug's end-to-end benchmarks (package bench)
// and prints one table.
//
// Usage:
//
//	benchtable [-parts plan,qmp,apply,scale,guest,throughput,stacks,datapath,slaac] [-apply N] [-vms N] …
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nicplug/nicplug/bench"
)

func main() {
	var o bench.Options
	parts := flag.String("parts", strings.Join(bench.AllParts, ","), "comma-separated parts to run")
	flag.IntVar(&o.PlanIters, "plan", 0, "Planner.Update calls per kind (0: default)")
	flag.IntVar(&o.QMPIters, "qmp", 0, "query-status round trips (0: default)")
	flag.IntVar(&o.ApplyIters, "apply", 0, "applies per plan kind (0: default 200)")
	flag.IntVar(&o.ScaleVMs, "vms", 0, "QEMUs switched concurrently (0: default 50)")
	flag.IntVar(&o.GuestIters, "guest", 0, "moves measured on a real guest (0: default 5)")
	flag.IntVar(&o.ThroughputMiB, "mib", 0, "MiB per throughput transfer (0: default 16)")
	flag.IntVar(&o.StackTrials, "stack-trials", 0, "moves per stack, hold and direction on the distribution guests (0: default 2)")
	flag.IntVar(&o.DatapathCycles, "dp-cycles", 0, "datapath part: bridge→direct→bridge→bridge→bridge cycles per datapath (0: default 25)")
	flag.IntVar(&o.DatapathTrials, "dp-trials", 0, "datapath part: TCP transfers each way per datapath (0: default 5)")
	flag.IntVar(&o.DatapathMiB, "dp-mib", 0, "datapath part: MiB per TCP transfer (0: default 8)")
	flag.IntVar(&o.SlaacTrials, "slaac-trials", 0, "slaac part: moves each way per guest (0: default 2)")
	quiet := flag.Bool("q", false, "no progress lines on stderr")
	flag.Parse()
	o.Parts = strings.Split(*parts, ",")
	if !*quiet {
		o.Progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := bench.Run(ctx, &o)
	if r != nil {
		r.WriteTable(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if len(r.Leaks) > 0 {
		os.Exit(2)
	}
}
