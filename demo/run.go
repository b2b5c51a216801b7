package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/lab"
	"github.com/nicplug/nicplug/internal/qemuproc"
)

// options are the demo's flags.
type options struct {
	// AssetsDir keeps the guest's assets; "" means guest's default cache.
	AssetsDir string
	// Verbose adds the guest console and nicplug's debug log.
	Verbose bool
	// CarrierHold is nicplug's Config.CarrierHold.
	CarrierHold time.Duration
	// NoDirect skips the macvtap part even as root.
	NoDirect bool
}

// The demo's NIC.
const (
	vmName = "nicplug-demo"
	mac    = "52:54:00:0f:7d:ad"
	device = "net0"
)

var userNet = netip.MustParsePrefix("10.0.2.0/24")

// ifaceXML is the demo NIC's <interface> of type typ with inner elements.
func ifaceXML(typ, inner string) []byte {
	return fmt.Appendf(nil, "<interface type='%s'>\n  <mac address='%s'/>\n  <model type='virtio'/>%s\n</interface>", typ, mac, inner)
}

// run is the demo: it writes the timeline to w and returns the first error.
// Everything it started is gone when it returns.
func run(ctx context.Context, opts options, w io.Writer) (err error) {
	tl := newTimeline(w)
	fmt.Fprintf(w, "nicplug demo: a QEMU guest whose NIC boots unplugged, then is plugged, moved and unplugged live\n")

	fmt.Fprintf(w, "building guest assets (cached after the first run)...\n")
	bcfg := &guest.BuildConfig{CacheDir: opts.AssetsDir}
	if opts.Verbose {
		bcfg.Logger = slog.New(slog.NewTextHandler(w, nil))
	}
	built := time.Now()
	assets, err := guest.Build(ctx, bcfg)
	if err != nil {
		return fmt.Errorf("build guest assets: %w", err)
	}
	fmt.Fprintf(w, "guest: kernel %s + busybox initramfs, ready in %.1fs\n", assets.KernelVersion, time.Since(built).Seconds())

	var lan *lab.Network
	skipDirect := ""
	switch {
	case opts.NoDirect:
		skipDirect = "disabled"
	case os.Geteuid() != 0:
		skipDirect = "not root (macvtaps and network namespaces need CAP_NET_ADMIN); run as root for the macvtap part"
	default:
		if lan, err = lab.NewNetwork(ctx, nil); err != nil {
			return fmt.Errorf("set up the macvtap LAN: %w", err)
		}
		defer func() {
			if cerr := lan.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("clean up the macvtap LAN: %w", cerr)
			}
		}()
		fmt.Fprintf(w, "lan: netns %s with macvtap parent %s, its veth peer %s in netns %s running udhcpd (%s)\n",
			lan.Netns, lan.Parent, lan.Router, lan.LANNetns, lan.Subnet)
	}

	domXML := fmt.Appendf(nil, "<domain type='qemu'>\n  <name>%s</name>\n  <devices>\n    %s\n  </devices>\n</domain>\n", vmName, ifaceXML("none", ""))
	d, err := domain.ParseDomain(domXML, nil)
	if err != nil {
		return err
	}
	ver, err := qemuproc.Version(ctx, "")
	if err != nil {
		return err
	}
	args, err := d.QEMUArgsFor(&domain.ArgsOptions{QEMU: ver})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "qemu: -S %s\n\n", joinArgs(args))

	bootCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tl.start()
	g, err := guest.Boot(bootCtx, &guest.Config{Assets: assets, ExtraArgs: args, Paused: true})
	if err != nil {
		return err
	}
	defer g.Close()
	tl.printf("boot: QEMU paused (-S), NIC %s type=none (no backend on its hub)", device)
	stopEvents := tl.follow(ctx, g, opts.Verbose)
	defer stopEvents()

	cfg := &nicplug.Config{CarrierHold: opts.CarrierHold}
	if lan != nil {
		cfg.Netns = lan.Netns
	}
	if opts.Verbose {
		cfg.Logger = slog.New(tl.slogHandler())
	}
	vm, err := nicplug.Attach(bootCtx, g.QMPSocket(), domXML, cfg)
	if err != nil {
		return err
	}
	defer vm.Close()

	p, err := vm.PlanStart(bootCtx)
	if err != nil {
		return err
	}
	tl.plan("start", p)
	if err := vm.Apply(bootCtx, p); err != nil {
		return err
	}
	tl.printf("applied, guest CPUs running")
	if _, err := tl.waitFor(ctx, g, 0, guest.Match(guest.KindCarrier, "0")); err != nil {
		return err
	}

	var sum summary
	step := func(what string, x []byte, subnet netip.Prefix) error {
		r, err := tl.connect(ctx, vm, g, what, x, subnet)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		sum = append(sum, r)
		return nil
	}
	if err := step("plug user", ifaceXML("user", ""), userNet); err != nil {
		return err
	}
	if lan != nil {
		direct := ifaceXML("direct", fmt.Sprintf("\n  <source dev='%s' mode='bridge'/>", lan.Parent))
		if err := step("switch user → direct", direct, lan.Subnet); err != nil {
			return err
		}
		if err := step("switch direct → user", ifaceXML("user", ""), userNet); err != nil {
			return err
		}
	} else {
		tl.printf("skipping the macvtap part: %s", skipDirect)
	}
	r, err := tl.disconnect(ctx, vm, g, "unplug", ifaceXML("none", ""))
	if err != nil {
		return fmt.Errorf("unplug: %w", err)
	}
	sum = append(sum, r)

	ifs, err := vm.Interfaces(ctx)
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.BackendID != "" || i.LinkUp {
			return fmt.Errorf("after unplug nicplug reads back %+v, want no backend and link down", i)
		}
		tl.printf("read back: %s mac %s hub %d, no backend, link down", i.Device, i.MAC, i.Hub)
	}
	stopEvents()
	sum.write(w)
	if lan != nil {
		if left, err := lan.Macvtaps(ctx); err != nil {
			return err
		} else if len(left) > 0 {
			return fmt.Errorf("macvtaps left behind: %q", left)
		}
	}
	return nil
}
