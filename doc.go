// Package nicplug boots QEMU VMs whose NICs can be unplugged, plugged and
// moved between networks while the guest runs, without hot-unplugging the
// guest's NIC, configured with libvirt domain XML.
//
// Every NIC is peered for life with a port of a hub of its own (see
// [domain.Domain.QEMUArgs]); a backend is attached by creating it
// standalone and joining it to that hub through a second hub port, and
// detached by removing that port. The guest sees only link carrier changes.
//
// # Use
//
// Start QEMU with -S and the domain's QEMUArgs, then:
//
//	vm, err := nicplug.Attach(ctx, qmpSocket, domainXML, nil)
//	err = vm.Start(ctx)                         // attach boot backends, set links, cont
//	err = vm.UpdateDevice(ctx, interfaceXML)    // plug, unplug, switch, link up/down
//	ifs, err := vm.Interfaces(ctx)              // live wiring read back from QEMU
//
// Without the domain XML, [AttachRunning] rebuilds the domain from QEMU and
// the host ([LiveDomain]: each NIC's model, MAC, PCI slot, boot order, ROM
// and MTU, and the attached backend's spec when it can be recovered) and
// checks updates against it; link states are then unknown until set.
// [ReadWiring] reads the bare wiring of every NIC nicplug wired in a QEMU
// (what `nicplug show` prints without --domain and without a VM name).
//
// # Plans
//
// Every change is a [Plan] first: ordered, named steps, each a QMP command,
// a host operation or a wait, each with its undo. [VM.PlanUpdate] and
// [VM.PlanStart] compute plans from the live state read back from QEMU
// (qom-list, qom-get, `info network`) and the host (links tagged with the
// VM's name); [Planner] is the pure function underneath, and
// [Planner.UpdateAsLive] plans against a domain taken as live ([AsLive]),
// without QEMU. A plan prints as a
// transcript ([Plan.String]) and encodes as versioned JSON (schema in the
// [Plan] doc). Kinds: start, plug, unplug, switch, link, cleanup, noop.
//
// A switch is make-before-break: the new backend is created standalone
// (host device, fd, getfd, netdev_add), then the link goes down, the old
// backend's hub port is removed, the new one's added, the link comes back
// up after the carrier hold, and only then the old backend and its
// host device are deleted, so everything before the last steps can be
// undone and only two QMP commands (hub port out, hub port in) run while
// the link is down, plus the hold. The hold ([Config.CarrierHold], by
// default [DefaultCarrierHold], 8 s) is what makes the guest notice the
// move and re-run DHCP: without it the link is down for about 4 ms, which
// guests miss, keeping their old lease on the new network. A move between two macvtaps of the same parent is the exception:
// the kernel refuses a second macvtap with the guest's MAC on one parent,
// so the old one is removed before the new one is created. Two backends
// are never on one hub at once and the link is down whenever no backend is
// attached.
//
// # Applying and failures
//
// [VM.Apply] runs the steps in order. When one fails (QMP error, host
// error, cancelled context, QEMU gone) the steps done are undone in
// reverse, with a fresh context bounded by [Config.UndoTimeout], fd names
// passed to QEMU and not consumed are closed with closefd, and host fds are
// closed. The error is a [*StepError] naming the step; errors.As reaches
// the cause (a *qmp.CommandError, for example) and any undo failure.
//
// Errors tell the caller's fault from the system's: errors.Is(err,
// [ErrBadInput]) holds for XML that does not parse, an update that matches
// no NIC or cannot change live, a backend that cannot be built (all found
// before anything changes, see [InputError] and [CheckUpdate]);
// errors.Is(err, [ErrInconsistent]) holds when a rollback failed, so QEMU
// or the host may hold leftovers (the next plan removes them). Anything
// else failed and changed nothing.
//
// # Convergence
//
// Ids are deterministic ([backend.ParseNetdevID]): backend netdevs carry a
// generation and a hash of their spec, so read-back tells which backend is
// attached. Applying the same update twice gives a noop plan the second
// time; after a crash mid-plan the next plan removes leftovers (standalone
// backends, stray hub ports, host links without a backend) first. No QEMU
// up to 10.0 can report a NIC's link state (see [Interface] for every
// query checked), so a VM remembers the state it set; when read-back shows
// an interrupted plan, the next plan sets the link explicitly.
//
// # Read-back
//
// The first plan of a VM, [VM.State], [VM.Interfaces], and every plan
// after a failed one read everything back: query-status, qom-list, the
// NICs' netdev and MAC (qom-get), `info network` and the host links
// tagged with the VM's name. Between plans applied without error on one
// connection, a VM keeps what it knows current with the effects of its
// plans and plans an update from that without asking QEMU (host links of
// tap-datapath NICs are read again); applying the plan checks `info
// network` (each NIC's hub port, its peer and MAC, and what sits on its
// hub) against what the plan was computed from: PlanUpdate sends the read
// without waiting, Apply queues the plan's first QMP command behind it and
// then collects the reply. If another client changed a netdev, the first
// command is undone, nothing else runs and the plan fails with an error
// matching [ErrStalePlan] ([VM.UpdateDevice] then plans again from a full
// read-back); any failure falls back to the full read-back.
//
// # QEMU versions
//
// Tested on QEMU 7.2 and 10.0. Read-back takes QOM properties whatever
// their type or sign (rombar is unsigned, default 1, on 7.2 and signed,
// default -1, on 10.0), and nicplug never deletes a NIC's own peer, whose
// netdev_del semantics changed in 10.0 (and 9.2.3, 8.2.10).
//
// # Concurrency
//
// Plans and applies on one VM are serialized by the VM; different VMs run
// in parallel.
package nicplug
