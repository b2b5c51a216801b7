package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// afterFailedRollback runs when an update failed and so did its rollback
// (applyErr, exit status 3): it reads the NIC back from QEMU, within
// afterBudget, so that the message and DOMAIN.xml say what is live. When
// the update's backend is what QEMU has attached, DOMAIN.xml is saved
// with the update (as after a success); when the old one is, it already
// says so; otherwise it is left as it was and the message says that it
// does not describe QEMU. The NIC's link state is unknown either way: the
// host device record marks it, so the next command sets it explicitly
// and show prints it as unknown.
// in is what the command read: DOMAIN.xml as read (the update is spliced
// into it) and the update; opts resolves type='network'.
func afterFailedRollback(ctx context.Context, vm *nicplug.VM, p *nicplug.Plan, in *liveInput, opts *domain.ParseOptions, save bool, applyErr error) error {
	domPath, domXML := in.domPath, in.domXML
	note := func(format string, args ...any) error {
		return &exitError{code: exitPartial, err: fmt.Errorf("%w; "+format, append([]any{applyErr}, args...)...)}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), afterBudget)
	defer cancel()
	ifs, err := vm.Interfaces(rctx)
	if err != nil && errors.Is(err, qmp.ErrClosed) && errors.Is(err, io.EOF) {
		// QEMU closed the monitor: it exited (or was killed).
		return note("QEMU closed its monitor (%v): if it exited, delete the VM's host devices with 'nicplug cleanup'", err)
	}
	if err != nil {
		if domPath == "" {
			return note("QEMU did not answer a read-back (%v): check with 'nicplug show' once it does", err)
		}
		return note("QEMU did not answer a read-back (%v): %s was left as it was and may not say what is live; check with 'nicplug show' once QEMU answers", err, domPath)
	}
	var live *nicplug.Interface
	for i := range ifs {
		if ifs[i].Device == p.Device {
			live = &ifs[i]
		}
	}
	if live == nil {
		return note("NIC %s is gone from QEMU", p.Device)
	}
	old := vm.Domain()
	upd, _ := domain.ParseInterface(in.ifXML, opts)
	liveHash := ""
	if id, err := backend.ParseNetdevID(live.BackendID); err == nil {
		liveHash = id.Hash
	}
	now := "no backend attached"
	if live.BackendID != "" {
		now = "backend " + live.BackendID + " attached"
	}
	for _, n := range old.NICs {
		if n.DeviceID() != p.Device {
			continue
		}
		if b := n.Backend(); (b.IsNone() && live.BackendID == "") || (!b.IsNone() && backend.SpecHash(b) == liveHash) {
			return note("QEMU has %s on %s, as before the update; its link state is unknown", now, p.Device)
		}
	}
	if upd == nil || upd.Backend().IsNone() || backend.SpecHash(upd.Backend()) != liveHash {
		if domPath == "" {
			return note("QEMU has %s on %s; its link state is unknown", now, p.Device)
		}
		return note("QEMU has %s on %s, which %s does not describe (it was left as it was); its link state is unknown", now, p.Device, domPath)
	}
	if !save || domPath == "" {
		return note("QEMU has %s on %s: the update's backend; its link state is unknown", now, p.Device)
	}
	next, err := old.WithUpdate(upd)
	if err == nil {
		err = saveDomain(domPath, domXML, old, next)
	}
	if err != nil {
		return &exitError{code: exitPartial, err: errors.Join(applyErr,
			fmt.Errorf("QEMU has %s on %s, the update's backend, but %s could not be saved: %w", now, p.Device, domPath, err))}
	}
	return note("QEMU has %s on %s, the update's backend: %s saved with the update; its link state is unknown", now, p.Device, domPath)
}
