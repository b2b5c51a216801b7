package netif

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
)

// Delete closes the files [Link.Open] returned that are still open and
// deletes the device. A device already gone, or replaced by another device
// of the same name (different ifindex), is not an error.
func (l *Link) Delete(ctx context.Context) error {
	l.closeFiles()
	err := deleteLink(ctx, l.Netns, l.Name, l.Index)
	if errors.Is(err, os.ErrNotExist) {
		return nil // the namespace is gone, and the device with it
	}
	return newOpError("delete", l.Name, err)
}

// DeleteLink deletes the nicplug-owned device name in the namespace at
// netns ("" = the caller's). A device that is not there is an error
// matching os.ErrNotExist that names the namespace looked in: nothing was
// deleted, and the device may live on in another namespace. A device
// without nicplug's owner tag is left alone ([ErrNotOwned]).
func DeleteLink(ctx context.Context, netns, name string) error {
	if err := validateName("device", name); err != nil {
		return newOpError("delete", name, err)
	}
	_, err := inNetns(ctx, netns, func(ns *nsRef, h *netlink.Handle) (struct{}, error) {
		err := deleteOwned(h, name, 0)
		if errors.Is(err, errLinkGone) {
			err = notFoundf("no device %q in %s", name, ns.name())
		}
		return struct{}{}, err
	})
	return newOpError("delete", name, err)
}

// deleteLink deletes name (with ifindex index, unless 0); a device already
// gone is not an error.
func deleteLink(ctx context.Context, nsPath, name string, index int) error {
	_, err := inNetns(ctx, nsPath, func(_ *nsRef, h *netlink.Handle) (struct{}, error) {
		err := deleteOwned(h, name, index)
		if errors.Is(err, errLinkGone) {
			err = nil
		}
		return struct{}{}, err
	})
	return err
}

// errLinkGone is deleteOwned's answer for a device that is not there.
var errLinkGone = errors.New("no such device")

// deleteOwned deletes name if it carries nicplug's tag (and has ifindex
// index, unless 0). A device not there, or of another ifindex, is
// errLinkGone.
func deleteOwned(h *netlink.Handle, name string, index int) error {
	nl, err := h.LinkByName(name)
	if err != nil {
		if linkNotFound(err) {
			return errLinkGone
		}
		return fmt.Errorf("look up %q: %w", name, err)
	}
	if index != 0 && nl.Attrs().Index != index {
		return errLinkGone
	}
	if _, ok := ParseOwner(nl.Attrs().Alias); !ok {
		return fmt.Errorf("%q (alias %q): %w", name, nl.Attrs().Alias, ErrNotOwned)
	}
	if err := h.LinkDel(nl); err != nil {
		if linkNotFound(err) {
			return errLinkGone
		}
		return fmt.Errorf("delete %q: %w", name, err)
	}
	return nil
}

// ListOwned returns the devices in the namespace at netns ("" = the
// caller's) that carry nicplug's owner tag.
func ListOwned(ctx context.Context, netns string) ([]*Link, error) {
	links, err := listOwned(ctx, netns)
	return links, newOpError("list", "", err)
}

// listAttempts bounds retries of a link dump the kernel interrupted.
const listAttempts = 5

func listOwned(ctx context.Context, nsPath string) ([]*Link, error) {
	all, err := inNetns(ctx, nsPath, func(ns *nsRef, h *netlink.Handle) ([]netlink.Link, error) {
		for attempt := 1; ; attempt++ {
			all, err := h.LinkList()
			if err == nil || !errors.Is(err, netlink.ErrDumpInterrupted) || attempt == listAttempts {
				if err != nil {
					return nil, fmt.Errorf("list links in %s: %w", ns.name(), err)
				}
				return all, nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	names := make(map[int]string, len(all))
	for _, nl := range all {
		names[nl.Attrs().Index] = nl.Attrs().Name
	}
	var owned []*Link
	for _, nl := range all {
		a := nl.Attrs()
		owner, ok := ParseOwner(a.Alias)
		if !ok {
			continue
		}
		l := &Link{
			Name:   a.Name,
			Index:  a.Index,
			Netns:  nsPath,
			Kind:   describe(nl),
			Owner:  owner,
			MAC:    a.HardwareAddr,
			Master: names[a.MasterIndex],
		}
		switch nl := nl.(type) {
		case *netlink.Macvtap:
			l.Kind = KindMacvtap
			l.Parent = names[a.ParentIndex]
			l.Mode = modeName(nl.Mode)
		case *netlink.Macvlan:
			l.Kind = KindMacvlan
			l.Parent = names[a.ParentIndex]
			l.Mode = modeName(nl.Mode)
		case *netlink.Tuntap:
			if l.Kind == "tuntap" {
				l.Kind = KindTap
			}
		}
		owned = append(owned, l)
	}
	return owned, nil
}

// modeName spells a kernel macvlan mode as [MacvtapMode.String] does.
func modeName(m netlink.MacvlanMode) string {
	for mode, km := range macvlanModes {
		if km == m {
			return MacvtapMode(mode).String()
		}
	}
	return fmt.Sprintf("mode %d", int(m))
}

// Sweep deletes the nicplug-owned devices in the namespace at netns whose
// owner alive reports false, and returns their names. Devices without
// nicplug's tag are never touched. Errors of single deletions are joined;
// the others are still attempted.
func Sweep(ctx context.Context, netns string, alive func(Owner) bool) ([]string, error) {
	if alive == nil {
		return nil, newOpError("sweep", "", invalidf("alive callback is nil"))
	}
	owned, err := listOwned(ctx, netns)
	if err != nil {
		return nil, newOpError("sweep", "", err)
	}
	var (
		deleted []string
		errs    []error
	)
	for _, l := range owned {
		if alive(l.Owner) {
			continue
		}
		if err := deleteLink(ctx, netns, l.Name, l.Index); err != nil {
			errs = append(errs, newOpError("sweep", l.Name, err))
			continue
		}
		deleted = append(deleted, l.Name)
	}
	return deleted, errors.Join(errs...)
}
