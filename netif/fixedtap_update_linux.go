package netif

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// UpdateFixedTap brings the existing fixed tap cfg.Name, tagged as
// cfg.Owner's, in line with cfg, for a caller that would have created it
// ([CreateFixedTap]) had it not been there: it gives the tap cfg.UID and
// cfg.GID as owner and group (TUNSETOWNER, TUNSETGROUP, through a queue
// attached for the purpose and closed again; the tap is persistent) where
// they differ. What a tap that exists cannot change is refused with an
// error matching os.ErrInvalid: its queue mode (IFF_MULTI_QUEUE when
// cfg.Queues > 1, single-queue otherwise), and an owner or group set
// that cfg asks to remove (UID or GID negative). A tap already as cfg
// says is not touched. One to change while another process holds its only
// queue (a single-queue tap QEMU opened) is an error matching unix.EBUSY,
// after a second's retries (see [OpenTap]).
// A missing tap matches os.ErrNotExist, one without cfg.Owner's tag
// [ErrNotOwned]. cfg.MAC is not compared.
func UpdateFixedTap(ctx context.Context, cfg *FixedTapConfig) error {
	if err := cfg.validate(); err != nil {
		return newOpError("update fixed tap", "", err)
	}
	_, err := inNetns(ctx, cfg.Netns, func(ns *nsRef, h *netlink.Handle) (struct{}, error) {
		return struct{}{}, updateFixedTap(ctx, ns, h, cfg)
	})
	return newOpError("update fixed tap", cfg.Name, err)
}

func updateFixedTap(ctx context.Context, ns *nsRef, h *netlink.Handle, cfg *FixedTapConfig) error {
	l, err := lookup(h, ns, "tap", cfg.Name)
	if err != nil {
		return err
	}
	tt, ok := l.(*netlink.Tuntap)
	if !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
		return invalidf("%q in %s is a %s, not a tap", cfg.Name, ns.name(), describe(l))
	}
	if o, ok := ParseOwner(l.Attrs().Alias); !ok || o != cfg.Owner {
		return fmt.Errorf("tap %q in %s (alias %q) is not NIC %s of VM %s's: %w", cfg.Name, ns.name(), l.Attrs().Alias, cfg.Owner.NIC, cfg.Owner.VM, ErrNotOwned)
	}
	mq := tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0
	if want := cfg.queues() > 1; mq != want {
		have := "single-queue"
		if mq {
			have = "multi-queue"
		}
		return invalidf("tap %q in %s is %s and the NIC asks for %d queues: a tap's queue mode cannot change, delete the tap (nicplug cleanup) to have it made anew", cfg.Name, ns.name(), have, cfg.queues())
	}
	uid, gid, err := tunOwnership(ns, l.Attrs().Index)
	if err != nil {
		return err
	}
	for _, id := range []struct {
		what      string
		have, set int
	}{{"owner uid", uid, cfg.UID}, {"group gid", gid, cfg.GID}} {
		if id.set < 0 && id.have >= 0 {
			return invalidf("tap %q in %s has %s %d, which cannot be removed: delete the tap (nicplug cleanup) to have it made anew, or give it a user again", cfg.Name, ns.name(), id.what, id.have)
		}
	}
	setUID, setGID := cfg.UID >= 0 && uid != cfg.UID, cfg.GID >= 0 && gid != cfg.GID
	if !setUID && !setGID {
		return nil
	}
	fds, err := openTun(ns, 1, 0)
	if err != nil {
		return err
	}
	fd := fds[0]
	defer unix.Close(fd)
	if err := tunAttach(ctx, fd, cfg.Name, tunFlags(true, mq)); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("tap %q in %s is held by another process (QEMU?), so its owner cannot change now: %w", cfg.Name, ns.name(), err)
		}
		return fmt.Errorf("attach to tap %q: %w", cfg.Name, err)
	}
	if setUID {
		if err := unix.IoctlSetInt(fd, unix.TUNSETOWNER, cfg.UID); err != nil {
			return fmt.Errorf("set owner of tap %q to uid %d: %w", cfg.Name, cfg.UID, err)
		}
	}
	if setGID {
		if err := unix.IoctlSetInt(fd, unix.TUNSETGROUP, cfg.GID); err != nil {
			return fmt.Errorf("set group of tap %q to gid %d: %w", cfg.Name, cfg.GID, err)
		}
	}
	return nil
}

// tunOwnership returns the owner and group of the tun/tap device at index
// in ns, -1 for none: the kernel reports IFLA_TUN_OWNER and IFLA_TUN_GROUP
// only when set, which netlink.Tuntap does not tell from 0 (root).
func tunOwnership(ns *nsRef, index int) (uid, gid int, err error) {
	uid, gid = -1, -1
	err = ns.do(func() error {
		req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_ACK)
		msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
		msg.Index = int32(index)
		req.AddData(msg)
		msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
		if err != nil {
			return fmt.Errorf("read link %d: %w", index, err)
		}
		if len(msgs) != 1 || len(msgs[0]) < unix.SizeofIfInfomsg {
			return fmt.Errorf("read link %d: %d replies", index, len(msgs))
		}
		attrs, err := nl.ParseRouteAttr(msgs[0][unix.SizeofIfInfomsg:])
		if err != nil {
			return fmt.Errorf("read link %d: %w", index, err)
		}
		for _, a := range nested(attrs, unix.IFLA_LINKINFO, nl.IFLA_INFO_DATA) {
			if len(a.Value) < 4 {
				continue
			}
			v := int(nl.NativeEndian().Uint32(a.Value))
			switch a.Attr.Type {
			case nl.IFLA_TUN_OWNER:
				uid = v
			case nl.IFLA_TUN_GROUP:
				gid = v
			}
		}
		return nil
	})
	return uid, gid, err
}

// nested returns the attributes inside attrs' attribute path[0], inside
// its path[1], and so on; nil when one is missing.
func nested(attrs []syscall.NetlinkRouteAttr, path ...uint16) []syscall.NetlinkRouteAttr {
	for _, typ := range path {
		var next []syscall.NetlinkRouteAttr
		for _, a := range attrs {
			if a.Attr.Type&nl.NLA_TYPE_MASK == typ {
				next, _ = nl.ParseRouteAttr(a.Value)
				break
			}
		}
		if next == nil {
			return nil
		}
		attrs = next
	}
	return attrs
}
