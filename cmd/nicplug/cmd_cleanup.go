package main

import (
	"context"
	"fmt"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
)

const cleanupDoc = `
Delete every host device nicplug created for a VM in --netns: the fixed
taps of its tap-datapath NICs (made by 'nicplug qemu-args'), the macvlans,
macvtaps and bridge taps of its backends, and the redirect an ethernet
backend's interface has to a fixed tap. Run it after the VM's QEMU has
exited: nothing checks that it has. The VM is named by DOMAIN.xml or
--name. Prints each device deleted. When it finds none in --netns but
the VM has devices in another named namespace (/run/netns/*) or the
initial one, it deletes nothing and fails (exit status 2) naming that
namespace; after deleting some, it warns about those left elsewhere.
`

func runCleanup(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("cleanup")
	netns := fs.String("netns", "", "network namespace `path` of the devices (default: the current one)")
	name := fs.String("name", "", "the VM's `name` (instead of DOMAIN.xml)")
	var nets netFlag
	nets.register(fs)
	pos, err := parse(e, fs, args, 0, 1)
	if err != nil {
		return err
	}
	if err := checkName(*name); err != nil {
		return err
	}
	if err := checkNetns(*netns); err != nil {
		return err
	}
	vm := *name
	switch {
	case len(pos) == 1 && vm != "":
		return usageErrorf("give DOMAIN.xml or --name, not both")
	case len(pos) == 0 && vm == "":
		return usageErrorf("give DOMAIN.xml or --name")
	case len(pos) == 1:
		if err := nets.load(); err != nil {
			return err
		}
		d, _, err := readDomain(pos[0], nets.opts)
		if err != nil {
			return err
		}
		if d.XML == nil || d.XML.Name == "" {
			return usageErrorf("%s: domain has no <name>", pos[0])
		}
		vm = d.XML.Name
	}
	deleted, err := nicplug.DeleteHostLinks(ctx, backend.NewNetifHost(*netns), vm)
	for _, l := range deleted {
		fmt.Fprintf(e.stdout, "deleted %s\n", l)
	}
	if err != nil {
		return err
	}
	// A forgotten (or wrong) --netns must not pass for a clean host.
	l, ok := findElsewhere(ctx, "", *netns, vm, "", "")
	switch {
	case ok && len(deleted) > 0:
		fmt.Fprintf(e.stderr, "nicplug: cleanup: warning: VM %s also has %s (NIC %s) in network namespace %s: run cleanup again with --netns %s\n",
			vm, l.Link, l.NIC, l.Netns, l.Netns)
		return nil
	case len(deleted) > 0:
		return nil
	case ok:
		return usageErrorf("VM %s has no host device in this command's network namespace (--netns), but has %s (NIC %s) in network namespace %s: run it with --netns %s",
			vm, l.Link, l.NIC, l.Netns, l.Netns)
	}
	fmt.Fprintf(e.stderr, "nicplug: cleanup: VM %s has no host device in this command's network namespace, nor in any named one (/run/netns) or the initial one: nothing to delete\n", vm)
	return nil
}
