package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/nicplug/nicplug"
)

const updateDoc = `
Apply an <interface> update to a running VM, like libvirt's
virsh update-device --live: the NIC is matched by alias, else MAC; a change
of type plugs, unplugs or moves it to another network, <link state> sets
its link. Prints the plan, then applies it; on failure the steps done are
undone in reverse (exit status 1, or 3 if the rollback failed too).

--domain DOMAIN.xml is the running domain's configuration: the record of
each NIC's link state (QEMU cannot report link states) and of backends
nicplug cannot recover from QEMU (ethernet, sockets). After a successful
update it is rewritten with the update applied, so that the next command
starts from the truth (exit status 3 if it cannot be saved); --save=false
leaves it alone. Only the changed <interface> element is rewritten (with
double quotes, its comments dropped); every other byte of the file stays.
The new file is written to a temporary file of a random name beside it
(created exclusively, never through a symlink), synced and renamed over
it; a symlinked DOMAIN.xml has its target replaced.

Without --domain the domain is rebuilt from QEMU and the host: each NIC's
model, MAC, PCI slot, boot order, ROM and MTU (so changes libvirt refuses
are refused), and the attached backend when nicplug can recover its spec
(user, direct, bridge). The VM's name (--name, default QEMU's -name) finds
the host devices nicplug created for it. Link states are unknown, so the
plan sets the link explicitly: re-applying an update is then a one-step
plan (set_link) instead of nothing.

Commands on one VM run one at a time (a lock beside the monitor socket,
SOCK.nicplug-lock, waited for within --timeout). The network namespace of
each host device nicplug creates is recorded in SOCK.nicplug-links: an
update whose --netns does not reach the NIC's device is refused (exit
status 2) with the namespace to use. After a failed rollback (exit status
3) the NIC is read back: the message says what QEMU has, DOMAIN.xml is
saved when QEMU has the update's backend, and the next command sets the
link explicitly.

A switch keeps the link down for --carrier-hold so that the guest notices
it was moved and re-runs DHCP; without it (0) the link is down for a few
milliseconds, which most guests miss, keeping their old lease. A Linux
guest hands a drop to userspace at most a second after its previous one;
the hold is stretched for that only within one command, so leave ~1.1 s
after an update that took the link down before a move with a short
--carrier-hold-fixed.
`

func runUpdate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("update")
	var cf connFlags
	var pf planFlags
	cf.register(fs)
	pf.register(fs)
	domPath := fs.String("domain", "", "the running domain's XML `file` (default: rebuilt from QEMU and the host)")
	name := fs.String("name", "", "without --domain: the VM's `name` (default: QEMU's -name)")
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
	if err := checkName(*name); err != nil {
		return err
	}
	if *domPath != "" && *name != "" {
		return usageErrorf("--name is the domain's <name> with --domain")
	}
	var in *liveInput
	ctx, end, err := cf.begin(ctx, func(ctx context.Context) (err error) {
		in, err = readLive(ctx, &cf, *domPath, pos[0])
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
	if err := printPlan(e, p, *jsonOut); err != nil {
		return err
	}
	warnMissing(ctx, e, &cf, p)
	old := vm.Domain()
	applyErr := applyRecorded(ctx, &cf, vm, p)
	var se *nicplug.StepError
	if errors.As(applyErr, &se) && se.UndoErr != nil {
		return afterFailedRollback(ctx, vm, p, in, cf.nets.opts, *save, applyErr)
	}
	if applyErr != nil && (se != nil || !errors.Is(applyErr, nicplug.ErrInconsistent)) {
		return applyErr // not applied, rolled back
	}
	// Applied; applyErr, if any, is a leftover in QEMU (exit 3). The file
	// is saved either way: it must describe what is live. A noop plan too:
	// the update may still name what QEMU has otherwise (another network
	// on the same bridge, type='null' for 'none'); an update the file
	// already says leaves it untouched (see saveDomain).
	if !*save || *domPath == "" {
		return applyErr
	}
	if err := saveDomain(*domPath, in.domXML, old, vm.Domain()); err != nil {
		return &exitError{code: exitPartial, err: errors.Join(applyErr, fmt.Errorf("applied, but %w", err))}
	}
	return applyErr
}
