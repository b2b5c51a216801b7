package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/qemuproc"
)

// The datapath part compares, in one run, a NIC on the tap datapath
// (<driver queues='2'/>: peered for life with a fixed host tap that a move
// re-plumbs on the host) with a NIC on the hub datapath (the default: a
// move swaps hub ports inside QEMU), for the same moves between two
// bridges and a direct (macvtap / macvlan) parent: apply time, link-down
// window, the plan's steps, host ops and QMP commands, the time of the host
// steps alone and the RTNL notifications the moves cause (this file), and
// TCP throughput both ways on a busybox guest (datapath_guest.go).

const (
	dpMACHub = "52:54:00:be:d0:01"
	dpMACTap = "52:54:00:be:d0:02"
)

var (
	dpB0     = domain.Backend{Type: domain.TypeBridge, Bridge: dpBridge0}
	dpB1     = domain.Backend{Type: domain.TypeBridge, Bridge: dpBridge1}
	dpDirect = domain.Backend{Type: domain.TypeDirect, Dev: dpParent, Mode: "bridge"}
)

// dpIface is net0's <interface> with backend b; tap puts it on the tap
// datapath (<driver queues='2'/>).
func dpIface(mac string, b domain.Backend, tap bool) string {
	drv := ""
	if tap {
		drv = "<driver queues='2'/>"
	}
	typ, inner := "none", ""
	switch b.Type {
	case domain.TypeBridge:
		typ, inner = "bridge", fmt.Sprintf("<source bridge='%s'/>", b.Bridge)
	case domain.TypeDirect:
		typ, inner = "direct", fmt.Sprintf("<source dev='%s' mode='%s'/>", b.Dev, b.Mode)
	}
	return fmt.Sprintf(`<interface type='%s'><mac address='%s'/><model type='virtio'/>%s<alias name='net0'/>%s</interface>`, typ, mac, drv, inner)
}

// dpVM is a QEMU whose NIC net0 nicplug manages in the part's namespace,
// with the fixed tap of a tap-datapath NIC.
type dpVM struct {
	managed
	tap  bool
	taps *nicplug.Taps
}

// dpTaps prepares dom's fixed taps in nsPath (none for a hub NIC) and
// returns the NIC arguments and the tap queues QEMU inherits from fd 3 on.
func dpTaps(ctx context.Context, dom *domain.Domain, nsPath string, tap bool) ([]string, []*os.File, *nicplug.Taps, error) {
	var (
		taps    *nicplug.Taps
		files   []*os.File
		tapArgs map[string]domain.TapArgs
		err     error
	)
	if tap {
		if taps, err = nicplug.PrepareTaps(ctx, dom, &nicplug.TapOptions{Netns: nsPath}); err != nil {
			return nil, nil, nil, err
		}
		if tapArgs, files, err = taps.Files(ctx, 3); err != nil {
			taps.Delete(context.WithoutCancel(ctx))
			return nil, nil, nil, err
		}
	}
	v, err := qemuproc.Version(ctx, "")
	if err == nil {
		var args []string
		if args, err = dom.QEMUArgsFor(&domain.ArgsOptions{QEMU: v, Taps: tapArgs}); err == nil {
			return args, files, taps, nil
		}
	}
	closeFiles(files)
	if taps != nil {
		taps.Delete(context.WithoutCancel(ctx))
	}
	return nil, nil, nil, err
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// startDPVM boots a paused guest-less QEMU with net0 unplugged.
func startDPVM(ctx context.Context, name, mac, nsPath string, tap bool) (*dpVM, error) {
	xml := domainXML(name, dpIface(mac, bNone, tap))
	dom, err := domain.ParseDomain(xml, nil)
	if err != nil {
		return nil, err
	}
	args, files, taps, err := dpTaps(ctx, dom, nsPath, tap)
	if err != nil {
		return nil, err
	}
	qp, err := qemuproc.Start(ctx, &qemuproc.Config{Sockets: 1, Args: args, ExtraFiles: files})
	closeFiles(files)
	if err != nil {
		if taps != nil {
			taps.Delete(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("bench: %w", err)
	}
	q := &qemuProc{sockets: qp.Sockets, cmd: qp.Cmd, q: qp}
	rec := &stepRecorder{}
	vm, err := nicplug.Attach(ctx, q.sock(), xml, &nicplug.Config{Netns: nsPath, Logger: slog.New(rec), CarrierHold: nicplug.NoCarrierHold})
	if err != nil {
		q.kill()
		if taps != nil {
			taps.Delete(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	return &dpVM{managed: managed{q: q, vm: vm, rec: rec, mac: mac}, tap: tap, taps: taps}, nil
}

func (d *dpVM) close() {
	d.vm.Close()
	d.q.kill()
	if d.taps != nil {
		d.taps.Delete(context.Background())
	}
}

// dpStats are one datapath's samples for one kind of move.
type dpStats struct {
	apply, plan, window, host samples
	steps, hostOps, qmpCmds   []int
	notif                     []int
	notifTypes                map[string]int
	stepNames                 []string
}

// move plans and applies b, with the plan's counts, the time of its host
// steps and the RTNL notifications it caused.
func (d *dpVM) move(ctx context.Context, mon *rtnlMonitor, b domain.Backend, s *dpStats) error {
	mon.drain()
	d.rec.take()
	t0 := time.Now()
	p, err := d.vm.PlanUpdate(ctx, []byte(dpIface(d.mac, b, d.tap)))
	if err != nil {
		return err
	}
	t1 := time.Now()
	if err := d.vm.Apply(ctx, p); err != nil {
		return err
	}
	apply := time.Since(t1)
	recs := d.rec.take()
	if s == nil {
		return nil
	}
	hostOp := map[string]bool{}
	var host, qmpN int
	var names []string
	for _, st := range p.Steps {
		switch st.Do.Type {
		case nicplug.ActionHost:
			host++
			hostOp[string(st.Do.Op)] = true
		case nicplug.ActionQMP:
			qmpN++
		}
		names = append(names, st.Phase+" "+strings.Fields(st.Do.String())[0])
	}
	var hostTime time.Duration
	for _, r := range recs {
		if _, cmd, _ := strings.Cut(r.name, " "); hostOp[strings.Fields(cmd + " x")[0]] {
			hostTime += r.elapsed
		}
	}
	s.plan = append(s.plan, t1.Sub(t0))
	s.apply = append(s.apply, apply)
	s.host = append(s.host, hostTime)
	if w, ok := linkDown(recs); ok {
		s.window = append(s.window, w)
	}
	s.steps = append(s.steps, len(p.Steps))
	s.hostOps = append(s.hostOps, host)
	s.qmpCmds = append(s.qmpCmds, qmpN)
	if s.stepNames == nil {
		s.stepNames = names
	}
	n := 0
	if s.notifTypes == nil {
		s.notifTypes = map[string]int{}
	}
	for t, c := range mon.drain() {
		n += c
		s.notifTypes[t] += c
	}
	s.notif = append(s.notif, n)
	return nil
}

// dpKind is one kind of move measured on both datapaths.
type dpKind struct {
	name     string
	tap, hub dpStats
}

// runDatapathMoves measures bridge→direct, direct→bridge and
// bridge→bridge on a hub NIC and a tap-datapath NIC, interleaved, on
// guest-less QEMUs with no carrier hold.
func runDatapathMoves(ctx context.Context, r *Report, n *dpNet, cycles int, progress func(string, ...any)) error {
	mon, err := newRTNLMonitor(n.path)
	if err != nil {
		return err
	}
	defer mon.close()
	hub, err := startDPVM(ctx, "nph3hub", dpMACHub, n.path, false)
	if err != nil {
		return err
	}
	defer hub.close()
	tap, err := startDPVM(ctx, "nph3tap", dpMACTap, n.path, true)
	if err != nil {
		return err
	}
	defer tap.close()

	b2d := &dpKind{name: "bridge→direct"}
	d2b := &dpKind{name: "direct→bridge"}
	b2b := &dpKind{name: "bridge→bridge"}
	cycle := []struct {
		k    *dpKind
		want domain.Backend
	}{{b2d, dpDirect}, {d2b, dpB0}, {b2b, dpB1}, {b2b, dpB0}}
	for _, d := range []*dpVM{hub, tap} {
		if err := d.move(ctx, mon, dpB0, nil); err != nil {
			return fmt.Errorf("bench: datapath setup: %w", err)
		}
	}
	progress("datapath: moves, %d cycles of bridge→direct→bridge→bridge→bridge on each datapath", cycles)
	for range cycles {
		for _, c := range cycle {
			if err := hub.move(ctx, mon, c.want, &c.k.hub); err != nil {
				return fmt.Errorf("bench: hub %s: %w", c.k.name, err)
			}
			if err := tap.move(ctx, mon, c.want, &c.k.tap); err != nil {
				return fmt.Errorf("bench: tap %s: %w", c.k.name, err)
			}
		}
	}
	for _, d := range []*dpVM{hub, tap} {
		if err := d.move(ctx, mon, bNone, nil); err != nil {
			return fmt.Errorf("bench: datapath teardown: %w", err)
		}
	}
	const part = "8 datapath"
	for _, k := range []*dpKind{b2d, d2b, b2b} {
		t, h := &k.tap, &k.hub
		r.add(Row{Part: part, Name: "move " + k.name + ": apply p50 / p99", N: len(t.apply),
			Value: t.apply.p50p99(), Baseline: h.apply.p50p99(), Ratio: ratio(t.apply.pct(50), h.apply.pct(50)),
			Note: fmt.Sprintf("VM.Apply; plan p50 tap %s, hub %s", fmtDur(t.plan.pct(50)), fmtDur(h.plan.pct(50)))})
		r.add(Row{Part: part, Name: "move " + k.name + ": link-down window p50 / p99", N: len(t.window),
			Value: t.window.p50p99(), Baseline: h.window.p50p99(), Ratio: ratio(t.window.pct(50), h.window.pct(50)),
			Note: "set_link false reply → set_link true reply, no carrier hold"})
		r.add(Row{Part: part, Name: "move " + k.name + ": host steps alone p50", N: len(t.host),
			Value: fmtDur(t.host.pct(50)), Baseline: fmtDur(h.host.pct(50)), Ratio: ratio(t.host.pct(50), h.host.pct(50)),
			Note: "sum of the plan's host steps (one netif call each)"})
		r.add(Row{Part: part, Name: "move " + k.name + ": steps = host ops + QMP commands", N: len(t.steps),
			Value: countsOf(t), Baseline: countsOf(h),
			Note: "tap: " + strings.Join(t.stepNames, ", ") + "; hub: " + strings.Join(h.stepNames, ", ")})
		r.add(Row{Part: part, Name: "move " + k.name + ": RTNL notifications per move (p50)", N: len(t.notif),
			Value: fmt.Sprint(medianInt(t.notif)), Baseline: fmt.Sprint(medianInt(h.notif)),
			Note: "tap " + typesOf(t.notifTypes, len(t.notif)) + "; hub " + typesOf(h.notifTypes, len(h.notif))})
	}
	if mon.overruns > 0 {
		r.add(Row{Part: part, Name: "RTNL monitor overruns", Value: fmt.Sprint(mon.overruns), Note: "notification counts are low bounds"})
	}
	return nil
}

// countsOf formats the plan counts, "steps = host + QMP", with a range
// when they varied.
func countsOf(s *dpStats) string {
	f := func(v []int) string {
		lo, hi := slices.Min(v), slices.Max(v)
		if lo == hi {
			return fmt.Sprint(lo)
		}
		return fmt.Sprintf("%d–%d", lo, hi)
	}
	if len(s.steps) == 0 {
		return ""
	}
	return fmt.Sprintf("%s = %s + %s", f(s.steps), f(s.hostOps), f(s.qmpCmds))
}

func medianInt(v []int) int {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	// The mean of the two middle values, rounded half away from zero.
	sum := c[n/2-1] + c[n/2]
	if sum < 0 {
		return (sum - 1) / 2
	}
	return (sum + 1) / 2
}

// typesOf formats notification counts by type, per move.
func typesOf(types map[string]int, n int) string {
	if n == 0 {
		return "-"
	}
	var keys []string
	for k := range types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.1f", k, float64(types[k])/float64(n)))
	}
	return strings.Join(parts, ", ")
}
