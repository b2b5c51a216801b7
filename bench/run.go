package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
)

// Parts, in the order Run executes them.
const (
	PartPlan       = "plan"
	PartQMP        = "qmp"
	PartApply      = "apply"
	PartScale      = "scale"
	PartGuest      = "guest"
	PartThroughput = "throughput"
	PartStacks     = "stacks"
	PartDatapath   = "datapath"
	PartSlaac      = "slaac"
)

// AllParts lists every part.
var AllParts = []string{PartPlan, PartQMP, PartApply, PartScale, PartGuest, PartThroughput, PartStacks, PartDatapath, PartSlaac}

// Options says what Run measures and how much. A nil *Options means all
// parts with the defaults below.
type Options struct {
	// Parts are the parts to run (see AllParts); nil means all.
	Parts []string
	// PlanIters is the number of Planner.Update calls per kind; zero
	// means 20000.
	PlanIters int
	// QMPIters is the number of round trips each of client and raw
	// loop make; zero means 5000.
	QMPIters int
	// ApplyIters is the number of applies per plan kind; zero means 200.
	ApplyIters int
	// ScaleVMs is the number of QEMUs switched concurrently; zero means 50.
	ScaleVMs int
	// GuestIters is the number of moves measured on a real guest; zero
	// means 5.
	GuestIters int
	// ThroughputMiB is the amount each throughput transfer sends; zero
	// means 16.
	ThroughputMiB int
	// StackTrials is the number of moves per stack, hold and direction on
	// the distribution guests; zero means 2.
	StackTrials int
	// StackHolds are the carrier holds tried per stack; nil means
	// defaultStackHolds.
	StackHolds map[guest.Stack][]time.Duration
	// DatapathCycles is the number of bridge→direct→bridge→bridge→bridge
	// cycles the datapath part applies on each datapath; zero means 25.
	DatapathCycles int
	// DatapathTrials is the number of TCP transfers each way per datapath;
	// zero means 5.
	DatapathTrials int
	// DatapathMiB is the amount each datapath transfer sends; zero means 8.
	DatapathMiB int
	// SlaacTrials is the number of moves each way per guest in the slaac
	// part; zero means 2.
	SlaacTrials int
	// SlaacStacks are the guests of the slaac part: StackBusybox (the
	// kernel's own SLAAC) and distribution stacks; nil means all three.
	SlaacStacks []guest.Stack
	// Progress receives a line per phase; nil discards.
	Progress io.Writer
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Parts == nil {
		c.Parts = AllParts
	}
	def(&c.PlanIters, 20000)
	def(&c.QMPIters, 5000)
	def(&c.ApplyIters, 200)
	def(&c.ScaleVMs, 50)
	def(&c.GuestIters, 5)
	def(&c.ThroughputMiB, 16)
	def(&c.StackTrials, 2)
	def(&c.DatapathCycles, 25)
	def(&c.DatapathTrials, 5)
	def(&c.DatapathMiB, 8)
	def(&c.SlaacTrials, 2)
	if c.SlaacStacks == nil {
		c.SlaacStacks = []guest.Stack{StackBusybox, guest.StackNetworkd, guest.StackNetworkManager}
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Run runs the parts opts names and returns the report. A part that fails
// stops the run: its error is returned with the report of the parts done.
func Run(ctx context.Context, opts *Options) (*Report, error) {
	o := opts.withDefaults()
	start := time.Now()
	r := &Report{Machine: machine()}
	progress := func(format string, args ...any) {
		fmt.Fprintf(o.Progress, "bench: "+format+"\n", args...)
	}
	for _, p := range o.Parts {
		switch p {
		case PartPlan, PartQMP, PartApply, PartScale, PartGuest, PartThroughput, PartStacks, PartDatapath, PartSlaac:
		default:
			return r, fmt.Errorf("bench: unknown part %q (known: %s)", p, strings.Join(AllParts, ", "))
		}
	}
	for _, p := range AllParts {
		if !containsPart(o.Parts, p) {
			continue
		}
		progress("part %s", p)
		var err error
		switch p {
		case PartPlan:
			err = runPlan(r, o.PlanIters)
		case PartQMP:
			err = runQMP(ctx, r, o.QMPIters)
		case PartApply:
			err = runApply(ctx, r, o.ApplyIters, progress)
		case PartScale:
			err = runScale(ctx, r, o.ScaleVMs, progress)
		case PartGuest:
			err = runGuest(ctx, r, o.GuestIters, progress)
		case PartThroughput:
			err = runThroughput(ctx, r, o.ThroughputMiB, progress)
		case PartStacks:
			err = runStacks(ctx, r, o.StackTrials, o.StackHolds, progress)
		case PartDatapath:
			err = runDatapath(ctx, r, o.DatapathCycles, o.DatapathMiB, o.DatapathTrials, progress)
		case PartSlaac:
			err = runSlaac(ctx, r, o.SlaacTrials, o.SlaacStacks, progress)
		}
		if err != nil {
			r.Elapsed = time.Since(start)
			return r, fmt.Errorf("bench: part %s: %w", p, err)
		}
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

func containsPart(parts []string, p string) bool {
	for _, q := range parts {
		if q == p {
			return true
		}
	}
	return false
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), CPU: "unknown", Kernel: "unknown", QEMU: qemuVersion(),
		Accel: "TCG, no KVM", Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
