package netif

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CreateFixedTap creates the persistent tap of a NIC on the tap datapath as
// cfg says: IFF_TAP|IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE when
// cfg.Queues > 1, owned by cfg.UID/cfg.GID when they are ≥ 0, with the guest
// MAC's 0xfe twin, tagged as nicplug's and up, enslaved to nothing. An
// existing device of that name is an error matching os.ErrExist
// (IFF_TUN_EXCL); on any error nothing is left behind. Open the queues with
// [Link.Open] or [OpenTap] and &OpenOptions{Queues: cfg.Queues, VnetHdr: true}.
func CreateFixedTap(ctx context.Context, cfg *FixedTapConfig) (*Link, error) {
	return create(ctx, "create fixed tap", cfg, createFixedTap)
}

func createFixedTap(ctx context.Context, cfg *FixedTapConfig) (*Link, error) {
	return inNetns(ctx, cfg.Netns, func(ns *nsRef, h *netlink.Handle) (*Link, error) {
		mac := tapMACFor(cfg.MAC)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := createOwnedTap(ns, cfg); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return nil, withKind(fmt.Errorf("a device named %q already exists in %s: %w", cfg.Name, ns.name(), err), unix.EEXIST)
			}
			return nil, err
		}
		l, err := finishLink(h, cfg.Name, cfg.Owner, mac)
		if err != nil {
			return nil, undoAdd(h, cfg.Name, err)
		}
		l.Netns = cfg.Netns
		l.Kind = KindTap
		return l, nil
	})
}

// createOwnedTap creates the persistent tap cfg.Name in ns with its queue
// mode, vnet_hdr and owner; an existing device of that name makes it fail
// with EBUSY (IFF_TUN_EXCL). Closing the creating file destroys a tap not
// yet persistent, so a failure before TUNSETPERSIST leaves nothing.
func createOwnedTap(ns *nsRef, cfg *FixedTapConfig) error {
	fds, err := openTun(ns, 1, 0)
	if err != nil {
		return err
	}
	fd := fds[0]
	defer unix.Close(fd)
	flags := tunFlags(true, cfg.queues() > 1) | unix.IFF_TUN_EXCL
	if err := tunSetIff(fd, cfg.Name, flags); err != nil {
		return fmt.Errorf("create tap %q: %w", cfg.Name, err)
	}
	if cfg.UID >= 0 {
		if err := unix.IoctlSetInt(fd, unix.TUNSETOWNER, cfg.UID); err != nil {
			return fmt.Errorf("set owner of tap %q to uid %d: %w", cfg.Name, cfg.UID, err)
		}
	}
	if cfg.GID >= 0 {
		if err := unix.IoctlSetInt(fd, unix.TUNSETGROUP, cfg.GID); err != nil {
			return fmt.Errorf("set group of tap %q to gid %d: %w", cfg.Name, cfg.GID, err)
		}
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1); err != nil {
		return fmt.Errorf("make tap %q persistent: %w", cfg.Name, err)
	}
	return nil
}
