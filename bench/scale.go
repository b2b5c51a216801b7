package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nicplug/nicplug/domain"
)

// runScale starts n paused guest-less QEMUs, attaches a VM to each, plugs
// slirp into each, then switches all of them at once (to a macvtap with
// root, else to a udp socket) from this process.
func runScale(ctx context.Context, r *Report, n int, progress func(string, ...any)) error {
	base := readProcStats()
	var ns *netns
	nsPath := ""
	if isRoot() {
		var err error
		if ns, err = newNetns(); err != nil {
			return err
		}
		nsPath = ns.path
	}
	vms := make([]*managed, n)
	var closeOnce sync.Once
	closeAll := func() {
		closeOnce.Do(func() {
			var wg sync.WaitGroup
			for _, m := range vms {
				if m != nil {
					wg.Go(m.close)
				}
			}
			wg.Wait()
			if ns != nil {
				ns.close()
			}
		})
	}
	defer closeAll()

	progress("scale: starting %d QEMUs (paused, -m 64)", n)
	targets := make([]domain.Backend, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		targets[i] = bDirect0
		if ns == nil {
			targets[i] = domain.Backend{Type: domain.TypeUDP, Address: "127.0.0.1", Port: 41000 + 2*i,
				LocalAddress: "127.0.0.1", LocalPort: 41001 + 2*i}
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m, err := startManaged(ctx, fmt.Sprintf("scale%02d", i), fmt.Sprintf("52:54:00:5c:%02x:%02x", i>>8, i&0xff), nsPath)
			if err == nil {
				vms[i] = m
				_, _, _, err = m.update(ctx, bUser)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("bench: scale VM %d: %w", i, err)
		}
	}
	var qemuRSS samples // in KB, stored as Duration for pct
	for _, m := range vms {
		qemuRSS = append(qemuRSS, time.Duration(statusKB(strconv.Itoa(m.q.cmd.Process.Pid), "VmRSS")))
	}
	attached := readProcStats()

	progress("scale: switching %d VMs concurrently", n)
	per := make(samples, n)
	stepRecs := make([][]stepRec, n)
	startGate := make(chan struct{})
	for i, m := range vms {
		wg.Go(func() {
			<-startGate
			t0 := time.Now()
			_, _, stepRecs[i], errs[i] = m.update(ctx, targets[i])
			per[i] = time.Since(t0)
		})
	}
	t0 := time.Now()
	close(startGate)
	wg.Wait()
	total := time.Since(t0)
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("bench: scale VM %d switch: %w", i, err)
		}
	}
	peak := readProcStats()
	steps := &kindStats{}
	for _, recs := range stepRecs {
		steps.addSteps(recs)
	}
	slowest, slowestP50 := "", time.Duration(0)
	for name, st := range steps.steps {
		if p := st.pct(50); p > slowestP50 {
			slowest, slowestP50 = name, p
		}
	}
	var serial time.Duration
	for _, d := range per {
		serial += d
	}
	closeAll()
	after, leaks := settle("scale", base)
	r.Leaks = append(r.Leaks, leaks...)

	kind := "user→macvtap"
	if ns == nil {
		kind = "user→udp (not root)"
	}
	r.add(Row{Part: "5 scale", Name: fmt.Sprintf("%d concurrent switches %s: total", n, kind), N: n,
		Value: fmtDur(total), Baseline: fmtDur(serial), Ratio: ratio(total, serial),
		Note: "baseline = sum of the per-VM times (serial equivalent); QEMUs paused with -S"})
	r.add(Row{Part: "5 scale", Name: "per-VM switch p50 / p99", N: n, Value: per.p50p99(),
		Note: fmt.Sprintf("slowest step: %s, p50 %s", slowest, fmtDur(slowestP50))})
	r.add(Row{Part: "5 scale", Name: "manager RSS / Go heap in use", N: n,
		Value:    fmt.Sprintf("%s / %.1f MB (peak RSS %s)", mb(peak.rssKB), float64(peak.heapInuse)/(1<<20), mb(peak.hwmKB)),
		Baseline: fmt.Sprintf("%s / %.1f MB", mb(base.rssKB), float64(base.heapInuse)/(1<<20)),
		Note:     "with the VMs attached, after the switch; baseline before any VM"})
	r.add(Row{Part: "5 scale", Name: "manager fds / goroutines", N: n,
		Value:    fmt.Sprintf("%d / %d attached, %d / %d after close", attached.fds, attached.goroutines, after.fds, after.goroutines),
		Baseline: fmt.Sprintf("%d / %d", base.fds, base.goroutines),
		Note:     "after close must equal baseline"})
	r.add(Row{Part: "5 scale", Name: "QEMU RSS each (paused, -m 64) p50 / p99", N: n,
		Value: mb(int64(qemuRSS.pct(50))) + " / " + mb(int64(qemuRSS.pct(99)))})
	return nil
}
