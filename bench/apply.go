package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/netif"
	"github.com/nicplug/nicplug/qmp"
)

// domainXML is a domain with one NIC net0 of interface XML iface.
func domainXML(name, iface string) []byte {
	return []byte(fmt.Sprintf(`<domain type='qemu'><name>%s</name><devices>%s</devices></domain>`, name, iface))
}

// ifaceXML is net0's <interface>: typ none, user or direct (inner names
// the source).
func ifaceXML(mac, typ, inner string) string {
	return fmt.Sprintf(`<interface type='%s'><mac address='%s'/><model type='virtio'/><alias name='net0'/>%s</interface>`, typ, mac, inner)
}

func xmlFor(mac string, b domain.Backend) string {
	switch b.Type {
	case domain.TypeUser:
		return ifaceXML(mac, "user", "")
	case domain.TypeDirect:
		return ifaceXML(mac, "direct", fmt.Sprintf("<source dev='%s' mode='%s'/>", b.Dev, b.Mode))
	case domain.TypeUDP:
		return ifaceXML(mac, "udp", fmt.Sprintf("<source address='%s' port='%d'><local address='%s' port='%d'/></source>",
			b.Address, b.Port, b.LocalAddress, b.LocalPort))
	}
	return ifaceXML(mac, "none", "")
}

// managed is a guest-less QEMU driven by nicplug.
type managed struct {
	q   *qemuProc
	vm  *nicplug.VM
	rec *stepRecorder
	mac string
}

// startManaged boots a paused QEMU with the domain's QEMUArgs (net0
// unplugged) and attaches a VM to it. It never runs cont: the QEMU stays
// paused and burns no CPU.
func startManaged(ctx context.Context, name, mac, netnsPath string) (*managed, error) {
	xml := domainXML(name, ifaceXML(mac, "none", ""))
	q, err := startDomainQEMU(ctx, xml)
	if err != nil {
		return nil, err
	}
	rec := &stepRecorder{}
	vm, err := nicplug.Attach(ctx, q.sock(), xml, &nicplug.Config{Netns: netnsPath, Logger: slog.New(rec), CarrierHold: nicplug.NoCarrierHold})
	if err != nil {
		q.kill()
		return nil, err
	}
	return &managed{q: q, vm: vm, rec: rec, mac: mac}, nil
}

// startDomainQEMU boots a paused guest-less QEMU with the NIC arguments of
// a domain document.
func startDomainQEMU(ctx context.Context, xml []byte) (*qemuProc, error) {
	dom, err := domain.ParseDomain(xml, nil)
	if err != nil {
		return nil, err
	}
	args, err := qemuArgs(ctx, dom)
	if err != nil {
		return nil, err
	}
	return startQEMU(ctx, 1, args...)
}

func (m *managed) close() {
	m.vm.Close()
	m.q.kill()
}

// update plans and applies an update, returning the plan time (a full
// read-back only for the first plan and after a failure),
// the apply time and the step records of the apply.
func (m *managed) update(ctx context.Context, b domain.Backend) (plan, apply time.Duration, recs []stepRec, err error) {
	m.rec.take()
	t0 := time.Now()
	p, err := m.vm.PlanUpdate(ctx, []byte(xmlFor(m.mac, b)))
	if err != nil {
		return 0, 0, nil, err
	}
	t1 := time.Now()
	if err := m.vm.Apply(ctx, p); err != nil {
		return 0, 0, nil, err
	}
	return t1.Sub(t0), time.Since(t1), m.rec.take(), nil
}

// handQMP is the minimal hand-written QMP sequence for the same changes,
// on a twin QEMU: no read-back, no plan, no rollback.
type handQMP struct {
	q      *qemuProc
	c      *qmp.Client
	mac    net.HardwareAddr
	netns  string
	seq    int
	cur    string      // attached backend netdev id, "" when none
	curKey string      // its kind: "user", "direct:<parent>"
	link   *netif.Link // its macvtap
}

func startHand(ctx context.Context, mac, netnsPath string) (*handQMP, error) {
	q, err := startDomainQEMU(ctx, domainXML("hand", ifaceXML(mac, "none", "")))
	if err != nil {
		return nil, err
	}
	c, err := qmp.Dial(ctx, q.sock(), nil)
	if err != nil {
		q.kill()
		return nil, err
	}
	hw, _ := net.ParseMAC(mac)
	return &handQMP{q: q, c: c, mac: hw, netns: netnsPath}, nil
}

func (h *handQMP) close() {
	h.c.Close()
	if h.link != nil {
		h.link.Delete(context.Background())
	}
	h.q.kill()
}

// move does what nicplug's plan does for b (plug, unplug or switch) and
// returns the link-down window (between the set_link replies; 0 when the
// link did not go down and up).
func (h *handQMP) move(ctx context.Context, b domain.Backend) (time.Duration, error) {
	if b.IsNone() {
		if h.cur == "" {
			return 0, nil
		}
		if err := h.c.SetLink(ctx, "net0", false); err != nil {
			return 0, err
		}
		return 0, h.detach(ctx)
	}
	h.seq++
	id := fmt.Sprintf("hand%d", h.seq)
	var link *netif.Link
	switch b.Type {
	case domain.TypeUser:
		if err := h.c.NetdevAdd(ctx, map[string]any{"type": "user", "id": id}); err != nil {
			return 0, err
		}
	case domain.TypeDirect:
		mode, err := netif.ParseMacvtapMode(b.Mode)
		if err != nil {
			return 0, err
		}
		link, err = netif.CreateMacvtap(ctx, &netif.MacvtapConfig{Parent: b.Dev, Mode: mode, MAC: h.mac,
			Owner: netif.Owner{VM: "hand", NIC: "net0"}, Netns: h.netns})
		if err != nil {
			return 0, err
		}
		files, err := link.Open(ctx, nil)
		if err != nil {
			link.Delete(ctx)
			return 0, err
		}
		err = h.c.GetFD(ctx, id+"fd", files[0])
		files[0].Close()
		if err == nil {
			err = h.c.NetdevAdd(ctx, map[string]any{"type": "tap", "id": id, "fd": id + "fd"})
		}
		if err != nil {
			link.Delete(ctx)
			return 0, err
		}
	default:
		return 0, fmt.Errorf("bench: hand-written sequence for %s not written", b.Type)
	}
	var window time.Duration
	var down time.Time
	if h.cur != "" {
		if err := h.c.SetLink(ctx, "net0", false); err != nil {
			return 0, err
		}
		down = time.Now()
		if err := h.c.NetdevDel(ctx, h.cur+".hp"); err != nil {
			return 0, err
		}
	}
	if err := h.c.NetdevAdd(ctx, map[string]any{"type": "hubport", "id": id + ".hp", "hubid": 0, "netdev": id}); err != nil {
		return 0, err
	}
	if err := h.c.SetLink(ctx, "net0", true); err != nil {
		return 0, err
	}
	if !down.IsZero() {
		window = time.Since(down)
		if err := h.c.NetdevDel(ctx, h.cur); err != nil {
			return 0, err
		}
		if h.link != nil {
			if err := h.link.Delete(ctx); err != nil {
				return 0, err
			}
		}
	}
	h.cur, h.link = id, link
	return window, nil
}

// detach removes the attached backend's hub port, the backend and its
// macvtap.
func (h *handQMP) detach(ctx context.Context) error {
	if err := h.c.NetdevDel(ctx, h.cur+".hp"); err != nil {
		return err
	}
	if err := h.c.NetdevDel(ctx, h.cur); err != nil {
		return err
	}
	if h.link != nil {
		if err := h.link.Delete(ctx); err != nil {
			return err
		}
	}
	h.cur, h.link = "", nil
	return nil
}

// kindStats collects one plan kind's samples.
type kindStats struct {
	name                     string
	total, plan, apply, hand samples
	window, handWindow       samples
	steps                    map[string]samples
	stepOrder                []string
}

func (k *kindStats) addSteps(recs []stepRec) {
	if k.steps == nil {
		k.steps = map[string]samples{}
	}
	for _, r := range recs {
		if _, ok := k.steps[r.name]; !ok {
			k.stepOrder = append(k.stepOrder, r.name)
		}
		k.steps[r.name] = append(k.steps[r.name], r.elapsed)
	}
}

// applyMove is one measured change: from the backend in place to want.
type applyMove struct {
	stats *kindStats
	want  domain.Backend
}

// runApply measures each plan kind applied by nicplug on one QEMU and by
// the hand-written sequence on a twin, iteration by iteration.
func runApply(ctx context.Context, r *Report, iters int, progress func(string, ...any)) error {
	var ns *netns
	if isRoot() {
		var err error
		if ns, err = newNetns(); err != nil {
			return err
		}
		defer ns.close()
	}
	nsPath := ""
	if ns != nil {
		nsPath = ns.path
	}
	m, err := startManaged(ctx, "bench", "52:54:00:be:00:01", nsPath)
	if err != nil {
		return err
	}
	defer m.close()
	h, err := startHand(ctx, "52:54:00:be:00:02", nsPath)
	if err != nil {
		return err
	}
	defer h.close()

	plug := &kindStats{name: "plug none→user"}
	unplug := &kindStats{name: "unplug user→none"}
	toMV := &kindStats{name: "switch user→macvtap"}
	toUser := &kindStats{name: "switch macvtap→user"}
	mvmv := &kindStats{name: "switch macvtap→macvtap"}
	groups := [][]applyMove{{{plug, bUser}, {unplug, bNone}}}
	if ns != nil {
		groups = append(groups,
			[]applyMove{{toMV, bDirect0}, {toUser, bUser}},
			[]applyMove{{mvmv, bDirect2}, {mvmv, bDirect0}})
	}
	// Group entry state: none; then user before the switches from user,
	// then macvtap (veth0) before macvtap→macvtap.
	entry := []domain.Backend{bNone, bUser, bDirect0}
	for gi, g := range groups {
		if err := m.enter(ctx, h, entry[gi]); err != nil {
			return err
		}
		progress("apply: %s / %s, %d iterations", g[0].stats.name, g[1].stats.name, iters)
		for range iters {
			for _, mv := range g {
				pl, ap, recs, err := m.update(ctx, mv.want)
				if err != nil {
					return fmt.Errorf("bench: nicplug %s: %w", mv.stats.name, err)
				}
				s := mv.stats
				s.plan = append(s.plan, pl)
				s.apply = append(s.apply, ap)
				s.total = append(s.total, pl+ap)
				s.addSteps(recs)
				if w, ok := linkDown(recs); ok {
					s.window = append(s.window, w)
				}
				t0 := time.Now()
				w, err := h.move(ctx, mv.want)
				if err != nil {
					return fmt.Errorf("bench: hand-written %s: %w", mv.stats.name, err)
				}
				s.hand = append(s.hand, time.Since(t0))
				if w > 0 {
					s.handWindow = append(s.handWindow, w)
				}
			}
		}
	}
	if err := m.enter(ctx, h, bNone); err != nil {
		return err
	}
	all := []*kindStats{plug, unplug, toMV, toUser, mvmv}
	for _, s := range all {
		if len(s.total) == 0 {
			r.add(Row{Part: "3 apply", Name: s.name + " p50 / p99", Note: "needs root (macvtap in a private netns)"})
			continue
		}
		r.add(Row{Part: "3 apply", Name: s.name + " p50 / p99", N: len(s.total),
			Value: s.total.p50p99(), Baseline: s.hand.p50p99(), Ratio: ratio(s.total.pct(50), s.hand.pct(50)),
			Note: fmt.Sprintf("nicplug = plan %s + apply %s, its check of QEMU included (p50)", fmtDur(s.plan.pct(50)), fmtDur(s.apply.pct(50)))})
	}
	for _, s := range []*kindStats{toMV, toUser, mvmv} {
		if len(s.window) == 0 {
			continue
		}
		r.add(Row{Part: "3 apply", Name: "link-down window " + s.name + " p50 / p99", N: len(s.window),
			Value: s.window.p50p99(), Baseline: s.handWindow.p50p99(), Ratio: ratio(s.window.pct(50), s.handWindow.pct(50)),
			Note: "set_link false reply → set_link true reply"})
	}
	for _, s := range []*kindStats{unplug, toMV, toUser} {
		for _, name := range s.stepOrder {
			st := s.steps[name]
			r.add(Row{Part: "3 steps", Name: s.name + ": " + name + " p50", N: len(st), Value: fmtDur(st.pct(50))})
		}
	}
	return nil
}

// enter brings both QEMUs to backend b (unmeasured).
func (m *managed) enter(ctx context.Context, h *handQMP, b domain.Backend) error {
	if _, _, _, err := m.update(ctx, b); err != nil {
		return fmt.Errorf("bench: nicplug setup: %w", err)
	}
	if _, err := h.move(ctx, b); err != nil {
		return fmt.Errorf("bench: hand-written setup: %w", err)
	}
	return nil
}
