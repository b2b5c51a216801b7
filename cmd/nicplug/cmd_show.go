package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

const showDoc = `
Print each NIC's live wiring, read back from QEMU: the backend attached to
its hub (none when unplugged, unknown when it cannot be named) and whether
the VM runs. NICs in QEMU that nicplug does not manage are listed after the
table with the reason.

The link state is always unknown: no QEMU query reports it, and show runs
in a process of its own, which set no link. With --domain, the state the
domain asks for is printed beside it ("unknown (domain: up)"); QEMU's may
differ (every link is up before 'nicplug start'; an update interrupted
after its set_link leaves it changed).

With --domain the NICs are the domain's and the backend is named by its
configuration when it is the configured one and, for direct and bridge,
its host device (macvtap or tap) is in --netns; otherwise it is unknown,
with where that device is or that it is missing. Without it, every NIC nicplug
wired (peered with its own hub port) is listed, and the backend is named
when its spec can be recovered (user; direct and bridge from the host
devices nicplug created, which the VM's name finds: --name, default QEMU's
-name, and --netns where they are).

--xml prints instead the domain XML rebuilt from QEMU and the host (without
--domain): the NICs as 'nicplug update' without --domain checks updates
against them. A NIC whose attached backend cannot be recovered reads
type='none' there, preceded by an XML comment saying so, and show warns on
standard error.
`

// nicRow is one NIC in show's output.
type nicRow struct {
	Device string `json:"device"`
	MAC    string `json:"mac"`
	Hub    int    `json:"hub"`
	// Link is up or down when known, else unknown (always, from the CLI:
	// QEMU cannot report it).
	Link string `json:"link"`
	// LinkConfigured is, with --domain, the link state the domain asks
	// for (up or down).
	LinkConfigured string `json:"link_configured,omitempty"`
	// Backend is the attached backend: "none", its spec such as
	// "direct(eth0,bridge)", or "unknown" when it is not the configured one
	// or its host device is not in --netns.
	Backend string `json:"backend"`
	// MissingLink is, with --domain, the host device the configured
	// backend owns (a macvtap or bridge tap) when --netns does not list it.
	MissingLink string `json:"missing_link,omitempty"`
	// Netdev and Driver are the attached backend's QEMU id and client type.
	Netdev string `json:"netdev,omitempty"`
	Driver string `json:"driver,omitempty"`
	// Leftovers are netdevs of this NIC's backends not attached to its hub
	// (left by an interrupted plan; the next update removes them).
	Leftovers []string `json:"leftovers,omitempty"`
	// Datapath is hub or tap.
	Datapath string `json:"datapath"`
	// Tap is a tap-datapath NIC's fixed tap and PluggedInto what the
	// host shows it plugged into ("bridge br0", "macvlan np… on eth0
	// (bridge)", "ethernet tap7", "nothing", or the half-done plumbing
	// of an interrupted plan).
	Tap         string `json:"tap,omitempty"`
	PluggedInto string `json:"plugged_into,omitempty"`
	// Elsewhere says, for a backend show could not name, where its host
	// device is when --netns does not reach it, or that it is missing.
	Elsewhere string `json:"elsewhere,omitempty"`
}

// showOutput is show's whole output.
type showOutput struct {
	VM      string   `json:"vm,omitempty"`
	Running bool     `json:"running"`
	NICs    []nicRow `json:"nics"`
	// Unmanaged are the NICs in QEMU nicplug does not manage.
	Unmanaged []unmanagedRow `json:"unmanaged,omitempty"`
}

// unmanagedRow is a NIC nicplug does not manage, and why.
type unmanagedRow struct {
	Name   string `json:"name"`
	Model  string `json:"model,omitempty"`
	MAC    string `json:"mac,omitempty"`
	Peer   string `json:"peer,omitempty"`
	Reason string `json:"reason"`
}

// unmanagedRows converts the library's report.
func unmanagedRows(us []nicplug.UnmanagedNIC) []unmanagedRow {
	var out []unmanagedRow
	for _, u := range us {
		out = append(out, unmanagedRow{Name: u.Name, Model: u.Model, MAC: u.MAC, Peer: u.Peer, Reason: u.Reason})
	}
	return out
}

func runShow(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("show")
	var cf connFlags
	cf.register(fs)
	domPath := fs.String("domain", "", "the running domain's XML `file`")
	jsonOut := fs.Bool("json", false, "print JSON")
	name := fs.String("name", "", "without --domain: the VM's `name` (default: QEMU's -name)")
	xmlOut := fs.Bool("xml", false, "print the domain XML rebuilt from QEMU and the host (without --domain)")
	if _, err := parse(e, fs, args, 0, 0); err != nil {
		return err
	}
	if err := cf.check(true); err != nil {
		return err
	}
	if err := checkName(*name); err != nil {
		return err
	}
	switch {
	case *domPath != "" && (*name != "" || *xmlOut):
		return usageErrorf("--name and --xml are for use without --domain")
	case *xmlOut && *jsonOut:
		return usageErrorf("--xml excludes --json")
	}
	var domXML []byte
	ctx, end, err := cf.begin(ctx, func(ctx context.Context) (err error) {
		if *domPath != "" {
			domXML, err = readFile(ctx, *domPath)
		}
		return err
	})
	if err != nil {
		return err
	}
	defer end()
	if *domPath != "" {
		if domXML, err = rereadDomain(ctx, *domPath, domXML); err != nil {
			return err
		}
	}
	if *xmlOut {
		return showXML(ctx, e, &cf, *name)
	}
	var out *showOutput
	if domXML != nil {
		out, err = showDomain(ctx, e, &cf, domXML)
		err = inFile(*domPath, err)
	} else {
		out, err = showLive(ctx, e, &cf, *name)
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	}
	return printShow(e, out)
}

// showDomain reads the wiring of the domain's NICs through the library:
// the backend is named by its configuration when it is the configured one,
// the link state is the one recorded in the domain.
func showDomain(ctx context.Context, e *env, cf *connFlags, domXML []byte) (*showOutput, error) {
	vm, err := nicplug.Attach(ctx, cf.qmp, domXML, config(e, cf, nil))
	if err != nil {
		return nil, err
	}
	defer vm.Close()
	st, err := vm.State(ctx)
	if err != nil {
		return nil, err
	}
	ifs, err := vm.Interfaces(ctx)
	if err != nil {
		return nil, err
	}
	out := &showOutput{VM: vm.Name(), Running: st.Running, NICs: []nicRow{}, Unmanaged: unmanagedRows(st.Unmanaged)}
	for _, it := range ifs {
		ns, ok := st.NIC(it.Device)
		if !ok {
			return nil, fmt.Errorf("NIC %s vanished between two read-backs", it.Device)
		}
		r := rowOf(ns)
		up := map[bool]string{true: "up", false: "down"}[it.LinkUp]
		if it.LinkUnknown {
			r.LinkConfigured = up
		} else {
			r.Link = up
		}
		if it.Backend.Type != "" {
			r.Backend = it.Backend.String()
		}
		r.MissingLink = it.MissingLink
		out.NICs = append(out.NICs, r)
	}
	hintRows(ctx, cf, vm.Name(), out.NICs)
	return out, nil
}

// showLive reads, without a domain, every NIC nicplug wired
// (nicplug.ReadWiring). Link states are unknown: QEMU does not report them.
// When the VM's name is known (vmName, else QEMU's -name), backends whose
// spec can be recovered are named (nicplug.LiveDomain).
func showLive(ctx context.Context, e *env, cf *connFlags, vmName string) (*showOutput, error) {
	c, err := qmp.Dial(ctx, cf.qmp, &qmp.Config{Logger: cf.logger(e)})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st, err := nicplug.ReadWiring(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &showOutput{Running: st.Running, NICs: []nicRow{}, Unmanaged: unmanagedRows(st.Unmanaged)}
	dom, err := nicplug.LiveDomain(ctx, c, backend.NewNetifHost(cf.netns), vmName)
	// (Without a name, no host device can be found: tap-datapath NICs
	// then show what QEMU tells.)
	switch {
	case err == nil:
		out.VM = dom.XML.Name
	case vmName == "" && errors.Is(err, nicplug.ErrBadInput):
		// No name: host devices cannot be found; show what QEMU tells.
	default:
		return nil, err
	}
	host := backend.NewNetifHost(cf.netns)
	for i := range st.NICs {
		ns := &st.NICs[i]
		if dom != nil && ns.Datapath == domain.DatapathTap {
			t, err := nicplug.ReadTap(ctx, host, dom.XML.Name, ns.Device)
			if err != nil {
				return nil, err
			}
			ns.Tap = t
		}
		r := rowOf(ns)
		if dom != nil && r.Netdev != "" {
			for _, n := range dom.NICs {
				if b := n.Backend(); n.DeviceID() == r.Device && !b.IsNone() {
					r.Backend = b.String()
				}
			}
		}
		out.NICs = append(out.NICs, r)
	}
	hintRows(ctx, cf, out.VM, out.NICs)
	return out, nil
}

// showXML prints the domain rebuilt from QEMU and the host.
func showXML(ctx context.Context, e *env, cf *connFlags, vmName string) error {
	vm, err := attachRunning(ctx, e, cf, nil, vmName)
	if err != nil {
		return err
	}
	defer vm.Close()
	ifs, err := vm.Interfaces(ctx)
	if err != nil {
		return err
	}
	b, err := vm.Domain().Marshal()
	if err != nil {
		return err
	}
	text := string(b)
	// Interfaces come in domain order, as Marshal writes them: mark each
	// NIC whose attached backend could not be recovered.
	var out strings.Builder
	for _, it := range ifs {
		i := strings.Index(text, "<interface ")
		if i < 0 {
			return fmt.Errorf("show: rebuilt domain has fewer <interface> elements than NICs")
		}
		j := strings.LastIndex(text[:i], "\n") + 1
		out.WriteString(text[:j])
		tapUnknown := it.Datapath == domain.DatapathTap && it.Backend.Type == ""
		if (it.BackendID != "" || tapUnknown) && it.Backend.Type == "" {
			why := fmt.Sprintf("%s: a backend is attached (netdev %s, %s) that could not be recovered, so it reads type='none' here", it.Device, it.BackendID, it.Driver)
			if tapUnknown {
				why = fmt.Sprintf("%s: what its fixed tap %s is plugged into could not be read (the tap is not in this network namespace, or an interrupted plan left it half plumbed), so it reads type='none' here", it.Device, it.Tap)
			}
			if it.Driver == "tap" {
				netdev := it.BackendID
				if tapUnknown {
					netdev = ""
				}
				if h := hostLinkHint(ctx, cf, vm.Name(), it.Device, it.MissingLink, netdev); h != "" {
					why += "; " + h
				} else {
					why += "; a host device nicplug created for it is found only in the network namespace it is in (--netns)"
				}
			}
			fmt.Fprintf(e.stderr, "nicplug: show: warning: %s\n", why)
			// "--" may not appear inside an XML comment.
			fmt.Fprintf(&out, "%s<!-- nicplug: %s -->\n", text[j:i], strings.ReplaceAll(strings.ReplaceAll(why, "(--netns)", "(option netns)"), "--", "option "))
		}
		out.WriteString(text[j : i+len("<interface ")])
		text = text[i+len("<interface "):]
	}
	out.WriteString(text)
	_, err = fmt.Fprintf(e.stdout, "%s\n", out.String())
	return err
}

// rowOf is a NIC's row as read back, link unknown. The backend is "none",
// "user" (the one backend whose id alone tells its spec: it has no
// parameters) or "unknown".
func rowOf(ns *nicplug.NICState) nicRow {
	r := nicRow{Device: ns.Device, MAC: ns.MAC, Hub: ns.Hub, Link: "unknown", Backend: "none", Leftovers: ns.Leftovers(),
		Datapath: string(domain.DatapathHub)}
	if ns.Datapath == domain.DatapathTap {
		r.Datapath, r.Netdev, r.Driver, r.Backend = string(ns.Datapath), ns.Peer, "tap", "unknown"
		if t := ns.Tap; t != nil {
			r.Tap, r.PluggedInto = t.Name, pluggedInto(t)
			if b, ok := t.Backend(); ok {
				r.Backend = b.String()
			}
		}
		return r
	}
	if b, ok := ns.Attached(); ok {
		r.Netdev, r.Driver, r.Backend = b.ID, b.Driver, "unknown"
		user := domain.Backend{Type: domain.TypeUser}
		if id, err := backend.ParseNetdevID(b.ID); err == nil && id.Hash == backend.SpecHash(user) {
			r.Backend = user.String()
		}
	}
	return r
}

func printShow(e *env, out *showOutput) error {
	state := "paused"
	if out.Running {
		state = "running"
	}
	name := out.VM
	if name == "" {
		name = "(no domain)"
	}
	fmt.Fprintf(e.stdout, "vm %s: %s, %d NICs managed by nicplug", name, state, len(out.NICs))
	if n := len(out.Unmanaged); n > 0 {
		fmt.Fprintf(e.stdout, ", %d not", n)
	}
	fmt.Fprintln(e.stdout)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tMAC\tHUB\tLINK\tBACKEND\tDRIVER\tNETDEV")
	for _, r := range out.NICs {
		link := r.Link
		if r.LinkConfigured != "" {
			link += " (domain: " + r.LinkConfigured + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Device, r.MAC, r.Hub, link, r.Backend, dash(r.Driver), dash(r.Netdev))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range out.NICs {
		if r.Datapath == string(domain.DatapathTap) {
			fmt.Fprintf(e.stdout, "%s: tap datapath, fixed tap %s plugged into %s\n", r.Device, dash(r.Tap), dash(r.PluggedInto))
		}
		if r.Elsewhere != "" {
			fmt.Fprintf(e.stdout, "%s: backend unknown here: %s\n", r.Device, r.Elsewhere)
		}
		if len(r.Leftovers) > 0 {
			fmt.Fprintf(e.stdout, "%s: leftovers of an interrupted plan (the next update removes them): %s\n",
				r.Device, strings.Join(r.Leftovers, " "))
		}
	}
	for _, u := range out.Unmanaged {
		desc := strings.TrimSpace(strings.Join([]string{u.Model, u.MAC}, " "))
		if desc != "" {
			desc = " (" + desc + ")"
		}
		fmt.Fprintf(e.stdout, "%s%s: not managed by nicplug: %s\n", u.Name, desc, u.Reason)
	}
	if len(out.NICs) == 0 && len(out.Unmanaged) == 0 {
		fmt.Fprintln(e.stdout, "QEMU has no NIC")
	}
	return nil
}
