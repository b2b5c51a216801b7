package main

import (
	"context"
	"fmt"

	"github.com/nicplug/nicplug"
)

const startDoc = `
Start a QEMU launched with -S and the arguments of 'nicplug qemu-args':
attach each NIC's boot backend, set the links of unplugged NICs (and of
<link state='down'/>) down, then cont. Prints the plan it applied.
`

func runStart(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("start")
	var cf connFlags
	cf.register(fs)
	jsonOut := fs.Bool("json", false, "print the plan as JSON")
	pos, err := parse(e, fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := cf.check(true); err != nil {
		return err
	}
	var domXML []byte
	ctx, end, err := cf.begin(ctx, func(ctx context.Context) (err error) {
		domXML, err = readFile(ctx, pos[0])
		return err
	})
	if err != nil {
		return err
	}
	defer end()
	if domXML, err = rereadDomain(ctx, pos[0], domXML); err != nil {
		return err
	}
	vm, err := nicplug.Attach(ctx, cf.qmp, domXML, config(e, &cf, nil))
	if err != nil {
		return inFile(pos[0], err)
	}
	defer vm.Close()
	p, err := vm.PlanStart(ctx)
	if err != nil {
		return tapElsewhere(ctx, &cf, err)
	}
	if err := checkHostRecord(ctx, &cf, vm.Name(), p); err != nil {
		return err
	}
	if err := applyRecorded(ctx, &cf, vm, p); err != nil {
		return err
	}
	return printPlan(e, p, *jsonOut)
}

// printPlan prints a plan as its transcript or as JSON.
func printPlan(e *env, p *nicplug.Plan, asJSON bool) error {
	if asJSON {
		b, err := p.MarshalIndent()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	}
	_, err := fmt.Fprint(e.stdout, p.String())
	return err
}
