package netif

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CreateBridgeTap creates a persistent multi-queue tap as cfg says (libvirt's
// type='bridge'), tags it as nicplug's, gives it the guest MAC with a 0xfe
// first byte, enslaves it to the bridge, makes it an access port of
// cfg.VLAN when that is not 0 ([SetAccessVLAN]: the bridge must filter
// VLANs) and brings it up. On error nothing is left behind. Open the queues with [Link.Open].
func CreateBridgeTap(ctx context.Context, cfg *BridgeTapConfig) (*Link, error) {
	return create(ctx, "create bridge tap", cfg, createBridgeTap)
}

func createBridgeTap(ctx context.Context, cfg *BridgeTapConfig) (*Link, error) {
	return inNetns(ctx, cfg.Netns, func(ns *nsRef, h *netlink.Handle) (*Link, error) {
		br, err := lookup(h, ns, "bridge", cfg.Bridge)
		if err != nil {
			return nil, err
		}
		if _, ok := br.(*netlink.Bridge); !ok {
			return nil, invalidf("%q in %s is a %s, not a bridge", cfg.Bridge, ns.name(), describe(br))
		}
		mac := tapMACFor(cfg.MAC)
		// IFF_TUN_EXCL reports a taken name as EBUSY.
		name, err := addNamed(ctx, ns, cfg.Name, TapPrefix, isErrno(unix.EBUSY), func(name string) error {
			return createPersistentTap(ns, name)
		})
		if err != nil {
			return nil, err
		}
		l, err := finishBridgeTap(h, name, cfg.Owner, mac, br)
		if err == nil && cfg.VLAN != 0 {
			err = setAccessVLAN(h, ns, name, cfg.VLAN)
		}
		if err != nil {
			return nil, undoAdd(h, name, err)
		}
		l.Netns = cfg.Netns
		l.Kind = KindTap
		l.Master = cfg.Bridge
		return l, nil
	})
}

func finishBridgeTap(h *netlink.Handle, name string, owner Owner, mac net.HardwareAddr, br netlink.Link) (*Link, error) {
	nl, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("read back %q: %w", name, err)
	}
	if err := h.LinkSetAlias(nl, owner.String()); err != nil {
		return nil, fmt.Errorf("tag %q: %w", name, err)
	}
	if err := h.LinkSetMasterByIndex(nl, br.Attrs().Index); err != nil {
		return nil, fmt.Errorf("enslave %q to bridge %q: %w", name, br.Attrs().Name, err)
	}
	return finishLink(h, name, owner, mac)
}

// tapMACFor is the MAC of a tap for the guest MAC guest: [TapMAC], or a
// random fe:… MAC when guest is nil.
func tapMACFor(guest net.HardwareAddr) net.HardwareAddr {
	if guest != nil {
		return TapMAC(guest)
	}
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac)
	mac[0] = 0xfe
	return mac
}

// createPersistentTap creates the multi-queue tap name in ns; an existing
// device of that name makes it fail with EBUSY (IFF_TUN_EXCL).
func createPersistentTap(ns *nsRef, name string) error {
	fds, err := openTun(ns, 1, 0)
	if err != nil {
		return err
	}
	fd := fds[0]
	defer unix.Close(fd)
	if err := tunSetIff(fd, name, tunFlags(false, true)|unix.IFF_TUN_EXCL); err != nil {
		return fmt.Errorf("create tap %q: %w", name, err)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1); err != nil {
		// Closing fd destroys the non-persistent device.
		return fmt.Errorf("make tap %q persistent: %w", name, err)
	}
	return nil
}
