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
its hub (none when unplugged) and its link state.

With --domain the NICs are the domain's, the backend is named by its
configuration when it is the configured one, and the link state is the one
recorded in DOMAIN.xml. Without it, every NIC nicplug wired (peered with its
own hub port) is listed; the link state is then unknown, because QEMU does
not report it, and the backend is named when its spec can be recovered
(user; direct and bridge from the host devices nicplug created, which the
VM's name finds: --name, default QEMU's -name).

--xml prints instead the domain XML rebuilt from QEMU and the host (without
--domain): the NICs as 'nicplug update' without --domain checks updates
against them. Backends that cannot be recovered read type='none' there.
`

// nicRow is one NIC in show's output.
type nicRow struct {
	Device string `json:"device"`
	MAC    string `json:"mac"`
	Hub    int    `json:"hub"`
	// Link is up, down or unknown.
	Link string `json:"link"`
	// Backend is the attached backend: "none", its spec such as
	// "direct(eth0,bridge)", or "unknown" when it is not the configured one.
	Backend string `json:"backend"`
	// Netdev and Driver are the attached backend's QEMU id and client type.
	Netdev string `json:"netdev,omitempty"`
	Driver string `json:"driver,omitempty"`
	// Leftovers are netdevs of this NIC's backends not attached to its hub
	// (left by an interrupted plan; the next update removes them).
	Leftovers []string `json:"leftovers,omitempty"`
}

// showOutput is show's whole output.
type showOutput struct {
	VM      string   `json:"vm,omitempty"`
	Running bool     `json:"running"`
	NICs    []nicRow `json:"nics"`
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
	switch {
	case *domPath != "" && (*name != "" || *xmlOut):
		return usageErrorf("--name and --xml are for use without --domain")
	case *xmlOut && *jsonOut:
		return usageErrorf("--xml excludes --json")
	}
	var domXML []byte
	if *domPath != "" {
		var err error
		if domXML, err = readFile(*domPath); err != nil {
			return err
		}
	}
	ctx, cancel := cf.context(ctx)
	defer cancel()
	if *xmlOut {
		return showXML(ctx, e, &cf, *name)
	}
	var out *showOutput
	var err error
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
	out := &showOutput{VM: vm.Name(), Running: st.Running, NICs: []nicRow{}}
	for _, it := range ifs {
		ns, ok := st.NIC(it.Device)
		if !ok {
			return nil, fmt.Errorf("NIC %s vanished between two read-backs", it.Device)
		}
		r := rowOf(ns)
		r.Link = "down"
		if it.LinkUp {
			r.Link = "up"
		}
		if it.Backend.Type != "" {
			r.Backend = it.Backend.String()
		}
		out.NICs = append(out.NICs, r)
	}
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
	out := &showOutput{Running: st.Running, NICs: []nicRow{}}
	dom, err := nicplug.LiveDomain(ctx, c, backend.NewNetifHost(cf.netns), vmName)
	switch {
	case err == nil:
		out.VM = dom.XML.Name
	case vmName == "" && errors.Is(err, nicplug.ErrBadInput):
		// No name: host devices cannot be found; show what QEMU tells.
	default:
		return nil, err
	}
	for i := range st.NICs {
		r := rowOf(&st.NICs[i])
		if dom != nil && r.Netdev != "" {
			for _, n := range dom.NICs {
				if b := n.Backend(); n.DeviceID() == r.Device && !b.IsNone() {
					r.Backend = b.String()
				}
			}
		}
		out.NICs = append(out.NICs, r)
	}
	return out, nil
}

// showXML prints the domain rebuilt from QEMU and the host.
func showXML(ctx context.Context, e *env, cf *connFlags, vmName string) error {
	vm, err := attachRunning(ctx, e, cf, nil, vmName)
	if err != nil {
		return err
	}
	defer vm.Close()
	b, err := vm.Domain().Marshal()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

// rowOf is a NIC's row as read back, link unknown. The backend is "none",
// "user" (the one backend whose id alone tells its spec: it has no
// parameters) or "unknown".
func rowOf(ns *nicplug.NICState) nicRow {
	r := nicRow{Device: ns.Device, MAC: ns.MAC, Hub: ns.Hub, Link: "unknown", Backend: "none", Leftovers: ns.Leftovers()}
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
	fmt.Fprintf(e.stdout, "vm %s: %s, %d NICs\n", name, state, len(out.NICs))
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tMAC\tHUB\tLINK\tBACKEND\tDRIVER\tNETDEV")
	for _, r := range out.NICs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Device, r.MAC, r.Hub, r.Link, r.Backend, dash(r.Driver), dash(r.Netdev))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range out.NICs {
		if len(r.Leftovers) > 0 {
			fmt.Fprintf(e.stdout, "%s: leftovers of an interrupted plan (the next update removes them): %s\n",
				r.Device, strings.Join(r.Leftovers, " "))
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
