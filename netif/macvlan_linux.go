package netif

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CreateMacvlan creates a macvlan as cfg says, tagged as nicplug's and up:
// the guest's MAC on the parent's L2, for a fixed tap to be redirected to
// ([AddRedirect]). A MAC already used by another macvlan or macvtap of the
// parent is EADDRINUSE from the kernel; a passthrough device that would
// not be the parent's only one is EINVAL. On error nothing is left behind.
func CreateMacvlan(ctx context.Context, cfg *MacvlanConfig) (*Link, error) {
	return create(ctx, "create macvlan", cfg, createMacvlan)
}

func createMacvlan(ctx context.Context, cfg *MacvlanConfig) (*Link, error) {
	return inNetns(ctx, cfg.Netns, func(ns *nsRef, h *netlink.Handle) (*Link, error) {
		parent, err := lookup(h, ns, "parent", cfg.Parent)
		if err != nil {
			return nil, err
		}
		qlen := parent.Attrs().TxQLen
		if qlen <= 0 {
			qlen = defaultTxQLen
		}
		name, err := addNamed(ctx, ns, cfg.Name, MacvlanPrefix, isErrno(unix.EEXIST), func(name string) error {
			la := netlink.NewLinkAttrs()
			la.Name = name
			la.ParentIndex = parent.Attrs().Index
			la.HardwareAddr = cfg.MAC
			la.TxQLen = qlen
			la.Alias = cfg.Owner.String()
			la.Flags = net.FlagUp
			err := h.LinkAdd(&netlink.Macvlan{LinkAttrs: la, Mode: macvlanModes[cfg.Mode]})
			switch {
			case err == nil || errors.Is(err, unix.EEXIST):
				return err
			case errors.Is(err, unix.EADDRINUSE):
				return fmt.Errorf("add %q on parent %q: MAC %s is already used by another macvlan/macvtap of the parent: %w", name, cfg.Parent, cfg.MAC, err)
			case errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EINVAL):
				// The kernel says EINVAL (EBUSY before 4.x) when either side
				// of a passthrough would not be the parent's only one.
				return fmt.Errorf("add %q on parent %q: %w (a passthrough macvlan/macvtap must be the parent's only one: passthrough needs it alone)", name, cfg.Parent, err)
			}
			return fmt.Errorf("add %q on parent %q: %w", name, cfg.Parent, err)
		})
		if err != nil {
			return nil, err
		}
		l, err := finishLink(h, name, cfg.Owner, cfg.MAC)
		if err != nil {
			return nil, undoAdd(h, name, err)
		}
		l.Netns = cfg.Netns
		l.Kind = KindMacvlan
		l.Parent = cfg.Parent
		l.Mode = cfg.Mode.String()
		return l, nil
	})
}
