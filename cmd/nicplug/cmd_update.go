package main

import (
	"context"
	"fmt"

	"github.com/nicplug/nicplug"
)

const updateDoc = `
Apply an <interface> update to a running VM, like libvirt's
virsh update-device --live: the NIC is matched by alias, else MAC; a change
of type plugs, unplugs or moves it to another network, <link state> sets
its link. Prints the plan, then applies it; on failure the steps done are
undone in reverse (exit status 1).

DOMAIN.xml is the running domain's configuration: nicplug needs it to know
the NICs, and it is the record of each NIC's link state (QEMU cannot report
link states). After a successful update it is rewritten with the update
applied, so that the next command starts from the truth; --save=false
leaves it alone.
`

func runUpdate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("update")
	var cf connFlags
	var pf planFlags
	cf.register(fs)
	pf.register(fs)
	domPath := fs.String("domain", "", "the running domain's XML `file` (required)")
	save := fs.Bool("save", true, "rewrite DOMAIN.xml with the update after it is applied")
	jsonOut := fs.Bool("json", false, "print the plan as JSON")
	pos, err := parse(e, fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := cf.check(true); err != nil {
		return err
	}
	if err := pf.check(); err != nil {
		return err
	}
	if *domPath == "" {
		return usageErrorf("--domain is required: nicplug needs the running domain's NICs and link states")
	}
	d, domXML, err := readDomain(*domPath)
	if err != nil {
		return err
	}
	upd, ifXML, err := readInterface(pos[0])
	if err != nil {
		return err
	}
	if err := checkUpdate(d, upd, pos[0]); err != nil {
		return err
	}
	ctx, cancel := cf.context(ctx)
	defer cancel()
	vm, err := nicplug.Attach(ctx, cf.qmp, domXML, config(e, &cf, &pf))
	if err != nil {
		return err
	}
	defer vm.Close()
	warnStale(ctx, e, vm, *domPath)
	p, err := vm.PlanUpdate(ctx, ifXML)
	if err != nil {
		return err
	}
	if err := printPlan(e, p, *jsonOut); err != nil {
		return err
	}
	if err := vm.Apply(ctx, p); err != nil {
		return err
	}
	if !*save || p.Kind == nicplug.KindNoop {
		return nil
	}
	out, err := vm.Domain().Marshal()
	if err != nil {
		return &exitError{code: exitPartial, err: fmt.Errorf("applied, but cannot save %s: %w", *domPath, err)}
	}
	if err := writeFileAtomic(*domPath, append(out, '\n')); err != nil {
		return &exitError{code: exitPartial, err: fmt.Errorf("applied, but %w", err)}
	}
	return nil
}
