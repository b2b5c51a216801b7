package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
)

// recordSuffix names the record of a VM's host devices: the monitor
// socket's path plus it.
const recordSuffix = ".nicplug-links"

// hostRecord is where each host device nicplug created for the VM behind
// one monitor socket lives: a later command given another --netns (or
// none) finds out instead of deleting nothing in the wrong namespace and
// leaking the device. It is a JSON file beside the socket, read and
// written under the VM's lock, and written before a plan creates a device
// so that a crash leaves it naming the namespace.
type hostRecord struct {
	path string
	// Links are the recorded devices.
	Links []recordedLink `json:"links"`
	// UnknownLinks are the NICs (device ids) whose link state is unknown
	// (a rollback failed, or a plan setting it is running or was killed
	// on the way): the next command sets it explicitly.
	UnknownLinks []string `json:"unknown_links,omitempty"`
}

// recordedLink is one host device and its network namespace.
type recordedLink struct {
	// VM and NIC are its owner tag.
	VM  string `json:"vm"`
	NIC string `json:"nic"`
	// Link is its name.
	Link string `json:"link"`
	// Netns is a path to its namespace ("" when nicplug knows none).
	Netns string `json:"netns"`
	// Dev and Ino identify the namespace (paths can be reused).
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// nsID identifies a network namespace.
type nsID struct{ dev, ino uint64 }

// nameNetns returns a path that reaches the namespace of --netns path: path
// itself, or for "" a name under /run/netns, or /proc/1/ns/net, or "".
func nameNetns(path string, id nsID) string {
	if path != "" {
		if abs, err := filepath.Abs(path); err == nil {
			return abs
		}
		return path
	}
	named, _ := filepath.Glob("/run/netns/*")
	for _, p := range append(named, "/proc/1/ns/net") {
		if other, err := netnsID(p); err == nil && other == id {
			return p
		}
	}
	return ""
}

func loadRecord(sock string) (*hostRecord, error) {
	r := &hostRecord{path: sidecarPath(sock, recordSuffix)}
	b, err := readRecord(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("host device record: %w", err)
	}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("host device record %s: %w", r.path, err)
	}
	return r, nil
}

// maxRecordSize bounds the record file: 256 NICs' devices take ~100 KiB.
const maxRecordSize = 1 << 20

// readRecord reads the record at path: a regular file (never through a
// symlink, a FIFO or a device someone put beside the socket) of at most
// maxRecordSize bytes.
func readRecord(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): remove it", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err == nil && len(b) > maxRecordSize {
		err = fmt.Errorf("%s is larger than 1 MiB, the limit: remove it", path)
	}
	return b, err
}

// save writes the record atomically (a fresh temporary file beside it,
// renamed over it), or removes it when it records nothing.
func (r *hostRecord) save() error {
	if len(r.Links) == 0 && len(r.UnknownLinks) == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("host device record: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(r.path), filepath.Base(r.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("host device record: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), r.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("host device record: %w", err)
	}
	return nil
}

// prune drops the entries of VM vm whose device is no longer in its
// namespace (or whose namespace is gone), so the record follows the host.
// An entry whose path no longer reaches its namespace (a /proc/PID/ns/net
// whose process exited) names the one found with its inode (see
// [findNetns]); only when none is found is the namespace gone.
func (r *hostRecord) prune(ctx context.Context, vm string) error {
	owned := map[nsID][]backend.OwnedLink{}
	var errs []error
	self, selfErr := netnsID("")
	kept := r.Links[:0]
	for _, l := range r.Links {
		if l.VM != vm {
			kept = append(kept, l)
			continue
		}
		id := nsID{l.Dev, l.Ino}
		path := l.Netns
		if selfErr == nil && self == id {
			path = ""
		} else if now, err := netnsID(path); path == "" || err != nil || now != id {
			if path = findNetns(id); path == "" {
				if l.Netns != "" {
					continue // the namespace is gone, and its devices with it
				}
				kept = append(kept, l) // unreachable from here: keep
				continue
			}
			l.Netns = path
		}
		links, ok := owned[id]
		if !ok {
			var err error
			if links, err = backend.NewNetifHost(path).ListOwned(ctx, vm); err != nil {
				errs = append(errs, err)
				kept = append(kept, l)
				continue
			}
			owned[id] = links
		}
		if slices.ContainsFunc(links, func(o backend.OwnedLink) bool { return o.Name == l.Link && o.Owner.NIC == l.NIC }) {
			kept = append(kept, l)
		}
	}
	r.Links = kept
	return errors.Join(errs...)
}

// elsewhereError is a plan refused because the NIC's host device lives in
// another network namespace than the command's: exit status 2.
func elsewhereError(l recordedLink, self nsID) error {
	where := "network namespace " + l.Netns
	hint := "run it with --netns " + l.Netns
	switch {
	case l.Netns == "":
		where = fmt.Sprintf("a network namespace nicplug cannot name (inode %d)", l.Ino)
		hint = "run it from that namespace"
	case self == nsID{l.Dev, l.Ino}:
		hint = "run it without --netns"
	}
	return usageErrorf("NIC %s of VM %s has host device %s in %s, where nicplug created it, not in this command's (--netns): %s",
		l.NIC, l.VM, l.Link, where, hint)
}

// checkHostRecord refuses plan p when a host device of a NIC it changes
// is recorded in another namespace than --netns.
func checkHostRecord(ctx context.Context, cf *connFlags, vm string, p *nicplug.Plan) error {
	r, err := loadRecord(cf.qmp)
	if err != nil {
		return err
	}
	if err := r.prune(ctx, vm); err != nil {
		return err
	}
	here, err := netnsID(cf.netns)
	if err != nil {
		return usageError(err)
	}
	self, _ := netnsID("")
	for _, l := range r.Links {
		if l.VM == vm && (p.Device == "" || l.NIC == p.Device) && (nsID{l.Dev, l.Ino}) != here {
			return elsewhereError(l, self)
		}
	}
	return nil
}

// applyRecorded applies p, recording beforehand the namespace of every
// host device it creates, and afterwards dropping the devices that are
// gone, whatever the outcome.
func applyRecorded(ctx context.Context, cf *connFlags, vm *nicplug.VM, p *nicplug.Plan) error {
	r, err := loadRecord(cf.qmp)
	if err != nil {
		return err
	}
	id, err := netnsID(cf.netns)
	if err != nil {
		return usageError(err)
	}
	ns := nameNetns(cf.netns, id)
	added := false
	for _, s := range p.Steps {
		a := s.Do
		if a.Type != nicplug.ActionHost || (a.Op != nicplug.OpCreateMacvtap && a.Op != nicplug.OpCreateBridgeTap && a.Op != nicplug.OpCreateMacvlan) || a.Owner == nil {
			continue
		}
		l := recordedLink{VM: a.Owner.VM, NIC: a.Owner.NIC, Link: a.Link, Netns: ns, Dev: id.dev, Ino: id.ino}
		if !slices.Contains(r.Links, l) {
			r.Links = append(r.Links, l)
			added = true
		}
	}
	devs := []string{p.Device}
	if p.Device == "" {
		devs = nil
		for _, n := range vm.Domain().NICs {
			devs = append(devs, n.DeviceID())
		}
	}
	// While a plan that sets a link runs, that link's state is in doubt
	// until the plan ends: recorded so, a command killed on the way
	// (SIGKILL, a second SIGINT) leaves the next one setting it
	// explicitly.
	before := slices.Clone(r.UnknownLinks)
	if setsLink(p) {
		for _, d := range devs {
			if !slices.Contains(r.UnknownLinks, d) {
				r.UnknownLinks = append(r.UnknownLinks, d)
				added = true
			}
		}
	}
	if added {
		if err := r.save(); err != nil {
			return fmt.Errorf("not applied: %w", err)
		}
	}
	applyErr := vm.Apply(ctx, p)
	var se *nicplug.StepError
	switch {
	case errors.As(applyErr, &se) && se.UndoErr != nil, errors.Is(applyErr, nicplug.ErrInconsistent):
		for _, d := range devs {
			if !slices.Contains(r.UnknownLinks, d) {
				r.UnknownLinks = append(r.UnknownLinks, d)
			}
		}
	case applyErr == nil:
		// Applied: every link of the plan's NICs is set as recorded.
		r.UnknownLinks = slices.DeleteFunc(r.UnknownLinks, func(d string) bool { return slices.Contains(devs, d) })
	default:
		// Rolled back, or failed before its first step: each link is as
		// it was before the plan.
		r.UnknownLinks = before
	}
	// Follow the host, with a context of its own: the apply may have
	// used up ctx.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), afterBudget)
	defer cancel()
	r.prune(pctx, vm.Name()) // on failure, a stale entry is pruned by the next command
	if err := r.save(); err != nil && se != nil && se.UndoErr != nil {
		return errors.Join(applyErr, err)
	}
	return applyErr
}

// setsLink reports whether plan p sets a NIC's link.
func setsLink(p *nicplug.Plan) bool {
	for _, s := range p.Steps {
		if s.Do.Type == nicplug.ActionQMP && s.Do.Command == "set_link" {
			return true
		}
	}
	return false
}

// unknownLinks returns the NICs whose link state the record says is
// unknown (none when the record cannot be read: the command reports that
// when it plans).
func unknownLinks(sock string) []string {
	r, err := loadRecord(sock)
	if err != nil {
		return nil
	}
	return r.UnknownLinks
}

// warnMissing warns about the host links plan p expected but the host did
// not list: the plan deletes nothing for them. It says where each is when
// nicplug finds it in another namespace, and that it is gone otherwise.
func warnMissing(ctx context.Context, e *env, cf *connFlags, p *nicplug.Plan) {
	where := "the current network namespace"
	if cf.netns != "" {
		where = "network namespace " + cf.netns
	}
	for _, l := range p.Missing {
		hint := "it is in no other named network namespace (/run/netns) nor the initial one: it was deleted, or lives in an unnamed namespace"
		if o, ok := findElsewhere(ctx, cf.qmp, cf.netns, p.VM, p.Device, l); ok {
			hint = "it is in network namespace " + o.Netns + ": run the update again with --netns " + o.Netns + " to remove it"
		}
		fmt.Fprintf(e.stderr, "nicplug: warning: host link %s of NIC %s was not found in %s: nothing deleted; %s\n", l, p.Device, where, hint)
	}
}
