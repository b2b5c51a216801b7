package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

const planDoc = `
Print the plan of an <interface> update without applying it: the ordered
steps (QMP commands, host operations, waits), each with its undo.

With --qmp the plan is computed from the live state read back from QEMU
and the host, exactly as 'nicplug update' would apply it. --domain gives
the running domain's XML (with --start instead of IFACE.xml: the start
plan); without it the domain is rebuilt from QEMU and the host, as
'nicplug update' without --domain does (see nicplug update -h). With
--from, nothing is contacted: OLD.xml (a <domain>, or a single <interface>)
is taken as the live state and the plan is computed purely.
`

func runPlan(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("plan")
	var cf connFlags
	var pf planFlags
	cf.register(fs)
	pf.register(fs)
	domPath := fs.String("domain", "", "the running domain's XML `file` (with --qmp)")
	from := fs.String("from", "", "plan against this domain or interface XML `file` as if it were live, without QEMU")
	name := fs.String("name", "", "VM `name` (names host links): with --from a single <interface> (default vm), or with --qmp and no --domain (default: QEMU's -name)")
	start := fs.Bool("start", false, "with --qmp: plan 'nicplug start' instead of an update")
	jsonOut := fs.Bool("json", false, "print the plan as JSON (schema: go doc github.com/nicplug/nicplug.Plan)")
	pos, err := parse(e, fs, args, 0, 1)
	if err != nil {
		return err
	}
	if err := pf.check(); err != nil {
		return err
	}
	if err := checkName(*name); err != nil {
		return err
	}
	switch {
	case *from != "" && (cf.qmp != "" || *domPath != ""):
		return usageErrorf("--from excludes --qmp and --domain")
	case *start && (cf.qmp == "" || *domPath == ""):
		return usageErrorf("--start needs --qmp and --domain")
	case *from == "" && cf.qmp == "":
		return usageErrorf("need --qmp, or --from (see nicplug plan -h)")
	case *domPath != "" && *name != "":
		return usageErrorf("--name is the domain's <name> with --domain")
	case *start && len(pos) > 0:
		return usageErrorf("--start takes no IFACE.xml")
	case !*start && len(pos) == 0:
		return usageErrorf("missing IFACE.xml (see nicplug plan -h)")
	}
	if *from != "" {
		vmName := *name
		if vmName == "" {
			vmName = "vm"
		}
		if cf.timeout <= 0 {
			return usageErrorf("--timeout must be positive, not %v", cf.timeout)
		}
		ctx, cancel := context.WithTimeout(ctx, cf.timeout)
		defer cancel()
		if err := cf.nets.load(ctx); err != nil {
			return err
		}
		p, err := planFrom(ctx, *from, pos[0], vmName, &pf, cf.nets.opts)
		if err != nil {
			return err
		}
		return printPlan(e, p, *jsonOut)
	}
	if err := cf.check(true); err != nil {
		return err
	}
	ifPath := ""
	if !*start {
		ifPath = pos[0]
	}
	var in *liveInput
	ctx, end, err := cf.begin(ctx, func(ctx context.Context) (err error) {
		in, err = readLive(ctx, &cf, *domPath, ifPath)
		return err
	})
	if err != nil {
		return err
	}
	defer end()
	if err := in.reread(ctx, &cf); err != nil {
		return err
	}
	vm, p, err := planLive(ctx, e, &cf, &pf, in, *name)
	if err != nil {
		return err
	}
	defer vm.Close()
	return printPlan(e, p, *jsonOut)
}

// planLive attaches to the VM and plans the update in in (read and
// checked before QEMU is contacted, see [readLive]) from the live state,
// warning when DOMAIN.xml is stale; without an update it plans the start.
// Without DOMAIN.xml the VM is attached without its domain
// (nicplug.AttachRunning, VM name vmName or QEMU's). On success the caller
// closes the VM.
// The plan is refused when a host device of the NIC it changes was created
// in another network namespace than --netns (see hostRecord).
func planLive(ctx context.Context, e *env, cf *connFlags, pf *planFlags, in *liveInput, vmName string) (*nicplug.VM, *nicplug.Plan, error) {
	vm, p, err := planLiveUnchecked(ctx, e, cf, pf, in, vmName)
	if err != nil {
		return nil, nil, tapElsewhere(ctx, cf, err)
	}
	if err := checkHostRecord(ctx, cf, vm.Name(), p); err != nil {
		vm.Close()
		return nil, nil, err
	}
	return vm, p, nil
}

func planLiveUnchecked(ctx context.Context, e *env, cf *connFlags, pf *planFlags, in *liveInput, vmName string) (vm *nicplug.VM, p *nicplug.Plan, err error) {
	if in.domPath == "" {
		return planRunning(ctx, e, cf, pf, vmName, in)
	}
	vm, err = nicplug.Attach(ctx, cf.qmp, in.domXML, config(e, cf, pf))
	if err != nil {
		return nil, nil, inFile(in.domPath, err)
	}
	if in.ifPath == "" {
		p, err = vm.PlanStart(ctx)
	} else {
		warnStale(ctx, e, vm, in.domPath)
		p, err = vm.PlanUpdate(ctx, in.ifXML)
		err = inFile(in.ifPath, err)
	}
	if err != nil {
		vm.Close()
		return nil, nil, err
	}
	return vm, p, nil
}

// planRunning plans the update in in on a VM attached without its
// domain: the domain is rebuilt from QEMU and the host.
func planRunning(ctx context.Context, e *env, cf *connFlags, pf *planFlags, vmName string, in *liveInput) (*nicplug.VM, *nicplug.Plan, error) {
	vm, err := attachRunning(ctx, e, cf, pf, vmName)
	if err != nil {
		return nil, nil, err
	}
	p, err := vm.PlanUpdate(ctx, in.ifXML)
	if err != nil {
		vm.Close()
		return nil, nil, inFile(in.ifPath, err)
	}
	return vm, p, nil
}

// attachRunning attaches to the VM without its domain.
func attachRunning(ctx context.Context, e *env, cf *connFlags, pf *planFlags, vmName string) (*nicplug.VM, error) {
	vm, err := nicplug.AttachRunning(ctx, cf.qmp, vmName, config(e, cf, pf))
	if err != nil && vmName == "" && errors.Is(err, nicplug.ErrBadInput) {
		return nil, usageErrorf("%w: give it with --name, or --domain DOMAIN.xml", err)
	}
	return vm, err
}

// warnStale warns when the live wiring is not what the domain file
// configures: the library records link states from that file (QEMU cannot
// report them), so a stale file makes plans start from a wrong link state.
func warnStale(ctx context.Context, e *env, vm *nicplug.VM, path string) {
	ifs, err := vm.Interfaces(ctx)
	if err != nil {
		return // the plan reads the same state and reports the error
	}
	for i, it := range ifs {
		want := vm.Domain().NICs[i].Backend()
		if it.Backend == want || (want.IsNone() && it.BackendID == "") {
			continue
		}
		if (it.Datapath == domain.DatapathTap && it.Backend.Type == "") || it.MissingLink != "" {
			continue // not known (the host device is elsewhere or gone, or half plumbed): the plan says
		}
		live := "no backend"
		if it.BackendID != "" {
			live = fmt.Sprintf("backend %s (%s)", it.BackendID, it.Driver)
		}
		fmt.Fprintf(e.stderr, "nicplug: warning: %s configures %s with %s but QEMU has %s: the file is stale (nicplug update saves it)\n",
			path, it.Device, want, live)
	}
}
