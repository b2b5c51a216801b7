package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
)

// maxScannedNetns bounds how many named network namespaces findElsewhere
// lists devices in.
const maxScannedNetns = 256

// findElsewhere looks for a host device nicplug created for NIC nic of VM
// vm (any NIC when nic is "", only the one named link when link is not
// "") in the network namespaces other than the
// command's (--netns), where a command that forgot --netns, or gave the
// wrong one, cannot see it: first those recorded beside monitor socket
// sock (SOCK.nicplug-links, when sock is not ""), then every namespace
// named under /run/netns (at most maxScannedNetns), then the initial one.
// It returns the first device found, with a path to its namespace.
func findElsewhere(ctx context.Context, sock, netns, vm, nic, link string) (recordedLink, bool) {
	here, err := netnsID(netns)
	if err != nil {
		return recordedLink{}, false
	}
	var paths []string
	if sock != "" {
		if r, err := loadRecord(sock); err == nil {
			for _, l := range r.Links {
				if l.VM == vm && l.Netns != "" {
					paths = append(paths, l.Netns)
				}
			}
		}
	}
	named, _ := filepath.Glob("/run/netns/*")
	if len(named) > maxScannedNetns {
		named = named[:maxScannedNetns]
	}
	paths = append(append(paths, named...), "/proc/1/ns/net")
	seen := map[nsID]bool{here: true}
	for _, p := range paths {
		id, err := netnsID(p)
		if err != nil || seen[id] || ctx.Err() != nil {
			continue
		}
		seen[id] = true
		owned, err := backend.NewNetifHost(p).ListOwned(ctx, vm)
		if err != nil {
			continue // gone meanwhile, or not a network namespace
		}
		for _, o := range owned {
			if (nic == "" || o.Owner.NIC == nic) && (link == "" || o.Name == link) {
				return recordedLink{VM: vm, NIC: o.Owner.NIC, Link: o.Name, Netns: p, Dev: id.dev, Ino: id.ino}, true
			}
		}
	}
	return recordedLink{}, false
}

// findNetns returns a path to the network namespace id: the first of the
// names under /run/netns, then of the other processes' /proc/PID/ns/net,
// that reaches it; "" when none does (the namespace is gone, or only a
// bind mount elsewhere or an open fd holds it). This process does not
// count: netif may have parked its main thread in a namespace it entered,
// which then lives only as long as the command.
func findNetns(id nsID) string {
	paths, _ := filepath.Glob("/run/netns/*")
	procs, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	for _, e := range procs {
		if _, err := strconv.ParseUint(e.Name(), 10, 32); err == nil && e.Name() != self {
			paths = append(paths, "/proc/"+e.Name()+"/ns/net")
		}
	}
	for _, p := range paths {
		if other, err := netnsID(p); err == nil && other == id {
			return p
		}
	}
	return ""
}

// tapElsewhere turns a plan refused because a fixed tap is not in the
// command's network namespace into a refusal naming the namespace it is
// in (exit status 2), or into an error saying it is nowhere nicplug
// looked.
func tapElsewhere(ctx context.Context, cf *connFlags, err error) error {
	var tm *nicplug.TapMissingError
	if !errors.As(err, &tm) {
		return err
	}
	if l, ok := findElsewhere(ctx, cf.qmp, cf.netns, tm.VM, tm.Device, tm.Tap); ok {
		self, _ := netnsID("")
		return elsewhereError(l, self)
	}
	return fmt.Errorf("NIC %s of VM %s: its fixed tap %s is neither in this command's network namespace (--netns) nor in any named one (/run/netns) or the initial one: it was deleted ('nicplug qemu-args' creates it; QEMU must be started again), or lives in an unnamed namespace: %w",
		tm.Device, tm.VM, tm.Tap, err)
}

// elsewhereHint says where the host device of NIC nic of VM vm is when
// --netns does not reach it, or "" when nicplug finds it nowhere else.
func elsewhereHint(ctx context.Context, cf *connFlags, vm, nic string) string {
	return hostLinkHint(ctx, cf, vm, nic, "", "")
}

// hostLinkHint says, for NIC nic of VM vm whose backend show could not
// name, where its host device is when --netns does not reach it, or that
// it is missing altogether: link is the host link its backend owns when
// the library found it missing from --netns (nicplug.Interface.MissingLink);
// otherwise, for a hub-datapath NIC with backend netdev, the device the
// record beside the monitor socket has for that backend, if --netns does
// not list it. It is "" when nicplug can tell neither (a device recorded
// in a namespace it has no path to may still be there).
func hostLinkHint(ctx context.Context, cf *connFlags, vm, nic, link, netdev string) string {
	if vm == "" {
		return ""
	}
	if l, ok := findElsewhere(ctx, cf.qmp, cf.netns, vm, nic, link); ok {
		return fmt.Sprintf("its host device %s is in network namespace %s: run with --netns %s", l.Link, l.Netns, l.Netns)
	}
	if link == "" {
		id, err := backend.ParseNetdevID(netdev)
		if err != nil || id.Role != backend.RoleBackend || id.Device != nic {
			return ""
		}
		link = backend.LinkName(vm, nic, id.Gen)
		if _, ok := recorded(cf.qmp, vm, nic, link); !ok {
			return ""
		}
		owned, err := backend.NewNetifHost(cf.netns).ListOwned(ctx, vm)
		if err != nil || slices.ContainsFunc(owned, func(o backend.OwnedLink) bool { return o.Name == link }) {
			return "" // here after all: the backend was not recovered for another reason
		}
	}
	if l, ok := recorded(cf.qmp, vm, nic, link); ok && l.Netns == "" {
		if here, err := netnsID(cf.netns); err != nil || here != (nsID{l.Dev, l.Ino}) {
			return "" // in a namespace nicplug has no path to
		}
	}
	return fmt.Sprintf("its host device %s is missing: it is in none of the network namespaces nicplug looks in (this command's --netns, those named under /run/netns, the initial one), so it was deleted, or its parent was (the next update replaces it)", link)
}

// recorded is the entry of the record beside monitor socket sock for host
// device link of NIC nic of VM vm.
func recorded(sock, vm, nic, link string) (recordedLink, bool) {
	if sock == "" {
		return recordedLink{}, false
	}
	r, err := loadRecord(sock)
	if err != nil {
		return recordedLink{}, false
	}
	for _, l := range r.Links {
		if l.VM == vm && l.NIC == nic && l.Link == link {
			return l, true
		}
	}
	return recordedLink{}, false
}

// hintRows fills in where the host devices of the rows whose backend
// show could not name are, when --netns does not reach them, or that they
// are missing.
func hintRows(ctx context.Context, cf *connFlags, vm string, rows []nicRow) {
	for i := range rows {
		r := &rows[i]
		if r.Backend != "unknown" || r.Driver != "tap" {
			continue
		}
		if r.Datapath == "tap" {
			if r.PluggedInto != tapNotHere {
				continue // half-done plumbing, which the next update completes
			}
			if h := elsewhereHint(ctx, cf, vm, r.Device); h != "" {
				r.PluggedInto += "; " + h
			}
			continue
		}
		r.Elsewhere = hostLinkHint(ctx, cf, vm, r.Device, r.MissingLink, r.Netdev)
	}
}

// tapNotHere is what a fixed tap missing from --netns is plugged into,
// as far as show knows.
const tapNotHere = "unknown: the tap is not in this network namespace (--netns)"
