package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
)

const cleanupDoc = `
Delete every host device nicplug created for a VM in --netns: the fixed
taps of its tap-datapath NICs (made by 'nicplug qemu-args'), the macvlans,
macvtaps and bridge taps of its backends, and the redirect an ethernet
backend's interface has to a fixed tap. Run it after the VM's QEMU has
exited: without --qmp nothing checks that it has. The VM is named by DOMAIN.xml or
--name. Prints each device deleted. When it finds none in --netns but
the VM has devices in another named namespace (/run/netns/*) or the
initial one, it deletes nothing and fails (exit status 2) naming that
namespace; after deleting some, it warns about those left elsewhere.

--qmp SOCK is the monitor socket of the VM's exited QEMU (refused while
a QEMU still listens on it): its record of host devices,
SOCK.nicplug-links, is searched too and, once cleanup has deleted the
VM's devices, loses those that are gone and the exited QEMU's unknown
link states; the file is removed when nothing is left in it.
`

func runCleanup(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("cleanup")
	netns := fs.String("netns", "", "network namespace `path` of the devices (default: the current one)")
	name := fs.String("name", "", "the VM's `name` (instead of DOMAIN.xml)")
	sock := fs.String("qmp", "", "the monitor `socket` of the VM's exited QEMU, whose host device record (SOCK.nicplug-links) to bring up to date")
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
		if err := nets.load(ctx); err != nil {
			return err
		}
		d, _, err := readDomain(ctx, pos[0], nets.opts)
		if err != nil {
			return err
		}
		if d.XML == nil || d.XML.Name == "" {
			return usageErrorf("%s: domain has no <name>", pos[0])
		}
		vm = d.XML.Name
	}
	var rec *hostRecord
	if *sock != "" {
		l, err := lockExited(ctx, *sock)
		if err != nil {
			return err
		}
		defer l.unlock()
		if rec, err = loadRecord(*sock); err != nil {
			return err
		}
	}
	deleted, err := nicplug.DeleteHostLinks(ctx, backend.NewNetifHost(*netns), vm)
	for _, l := range deleted {
		fmt.Fprintf(e.stdout, "deleted %s\n", l)
	}
	if err != nil {
		return err
	}
	// A forgotten (or wrong) --netns must not pass for a clean host.
	l, ok := findElsewhere(ctx, *sock, *netns, vm, "", "")
	if !ok || len(deleted) > 0 {
		if err := rec.forgetExited(ctx, vm); err != nil {
			return err
		}
	}
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

// cleanupLockWait bounds how long cleanup --qmp waits for the VM's lock.
const cleanupLockWait = 30 * time.Second

// lockExited takes the lock of the VM behind monitor socket sock for
// cleanup --qmp, refusing (exit status 2) a path that is not a socket, or
// a socket a QEMU still listens on. A socket that is gone (QEMU removed
// it on its way out) gets no lock, as in [lockVM].
func lockExited(ctx context.Context, sock string) (*vmLock, error) {
	fi, err := os.Stat(sock)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, usageErrorf("--qmp %s: %w", cutString(sock, 200), err)
	case fi.Mode().Type() != os.ModeSocket:
		return nil, usageErrorf("--qmp %s is not a socket (%s)", cutString(sock, 200), fileKind(fi))
	default:
		c, err := net.DialTimeout("unix", sock, time.Second)
		switch {
		case err == nil:
			c.Close()
			return nil, usageErrorf("--qmp %s: a QEMU still listens on it: cleanup is for a VM whose QEMU has exited", cutString(sock, 200))
		case !errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("--qmp %s: cannot tell whether its QEMU exited: %w", cutString(sock, 200), err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cleanupLockWait)
	defer cancel()
	return lockVM(ctx, sock)
}

// fileKind names the type of the file fi describes, for messages.
func fileKind(fi os.FileInfo) string {
	if fi.Mode().IsRegular() {
		return "a regular file"
	}
	return fi.Mode().Type().String()
}

// forgetExited brings the record of a VM whose QEMU has exited up to
// date once cleanup has deleted VM vm's devices: it drops the entries of
// vm whose devices are gone and, unless the record names another VM's
// devices, the link states the exited QEMU left unknown; the file goes
// when nothing is left in it. Nothing is written for a nil record (no
// --qmp) or one left unchanged.
func (r *hostRecord) forgetExited(ctx context.Context, vm string) error {
	if r == nil {
		return nil
	}
	before := len(r.Links) + len(r.UnknownLinks)
	if err := r.prune(ctx, vm); err != nil {
		return err
	}
	if !slices.ContainsFunc(r.Links, func(l recordedLink) bool { return l.VM != vm }) {
		r.UnknownLinks = nil
	}
	if len(r.Links)+len(r.UnknownLinks) == before {
		return nil
	}
	return r.save()
}
