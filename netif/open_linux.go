package netif

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Retries for a device that udev or the kernel has not finished setting up
// (libvirt's policy for macvtap: 10 attempts, 20 ms apart).
const (
	openAttempts = 10
	openInterval = 20 * time.Millisecond
)

// Open opens the device's queues for QEMU: opts.Queues files (1 by
// default), each O_CLOEXEC and non-blocking, with IFF_VNET_HDR set or
// cleared as asked, and each checked to belong to this very device. For a
// macvtap the files come from a private device node (see the package doc).
// The caller passes them to QEMU and closes its copies; [Link.Delete] closes
// those still open.
func (l *Link) Open(ctx context.Context, opts *OpenOptions) ([]*os.File, error) {
	var (
		files []*os.File
		err   error
	)
	switch l.Kind {
	case KindMacvtap:
		files, err = openMacvtap(ctx, l.Netns, l.Name, l.Index, opts)
	case KindTap:
		files, err = openTap(ctx, l.Netns, l.Name, l.Index, opts)
	default:
		err = invalidf("cannot open a device of kind %q", l.Kind)
	}
	if err != nil {
		return nil, newOpError("open", l.Name, err)
	}
	l.track(files)
	return files, nil
}

// OpenTap opens an existing tap device by name (libvirt's type='ethernet')
// in the namespace at netns ("" = the caller's). The device is not created
// if missing (error matching os.ErrNotExist) and need not be nicplug's. A
// single-queue tap with a queue attached is retried for a second (a queue
// closed a moment ago lives on in children forked before the close until
// they exec), then reported with an error matching unix.EBUSY.
func OpenTap(ctx context.Context, netns, name string, opts *OpenOptions) ([]*os.File, error) {
	if err := validateName("tap", name); err != nil {
		return nil, newOpError("open tap", name, err)
	}
	files, err := openTap(ctx, netns, name, 0, opts)
	return files, newOpError("open tap", name, err)
}

// closeAll closes files and raw fds after a failure.
func closeAll(files []*os.File, fds []int) {
	for _, f := range files {
		f.Close()
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retry runs fn until it succeeds, fails with an error other than the
// "not there yet" errnos, or openAttempts are used up.
func retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == openAttempts ||
			!(errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV)) {
			return err
		}
		if serr := sleepCtx(ctx, openInterval); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

// macvtapNode is what the macvtap's own namespace says about it.
type macvtapNode struct {
	index int
	dev   uint64
	mac   string
}

// readMacvtapSysfs reads ifindex, MAC and device number of name from a sysfs
// mounted at sys.
func readMacvtapSysfs(sys, name string) (macvtapNode, error) {
	var n macvtapNode
	base := filepath.Join(sys, "class", "net", name)
	b, err := os.ReadFile(filepath.Join(base, "ifindex"))
	if err != nil {
		return n, err
	}
	if n.index, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		return n, fmt.Errorf("parse %s/ifindex: %w", base, err)
	}
	if b, err = os.ReadFile(filepath.Join(base, "address")); err != nil {
		return n, err
	}
	n.mac = strings.TrimSpace(string(b))
	devFile := filepath.Join(base, "macvtap", "tap"+strconv.Itoa(n.index), "dev")
	if b, err = os.ReadFile(devFile); err != nil {
		return n, err
	}
	maj, min, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return n, fmt.Errorf("parse %s: %q is not major:minor", devFile, b)
	}
	n.dev = unix.Mkdev(uint32(ma), uint32(mi))
	return n, nil
}

// openMacvtap opens queues of the macvtap name (ifindex index, 0 = any) in
// the namespace at nsPath. A throw-away thread joins the macvtap's network
// namespace and a private mount namespace, mounts a tmpfs on a fresh 0700
// directory and sysfs inside it, reads the macvtap's device number from its
// own namespace's sysfs, creates the node in the tmpfs and opens it. Nothing
// of this is visible outside that thread, and all of it is gone once the
// thread exits and the files are closed.
func openMacvtap(ctx context.Context, nsPath, name string, index int, opts *OpenOptions) ([]*os.File, error) {
	queues, err := opts.queues()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ns, err := openNetns(nsPath)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	dir, err := os.MkdirTemp("", "nicplug-macvtap-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(dir)

	var (
		fds  []int
		node macvtapNode
	)
	err = onThrowawayThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("unshare mount namespace: %w", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make mounts private: %w", err)
		}
		if err := unix.Setns(int(ns.fd), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter %s: %w", ns.name(), err)
		}
		if err := unix.Mount("nicplug", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0700,size=64k"); err != nil {
			return fmt.Errorf("mount private tmpfs: %w", err)
		}
		sys := filepath.Join(dir, "sys")
		if err := os.Mkdir(sys, 0o700); err != nil {
			return err
		}
		if err := unix.Mount("sysfs", sys, "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount sysfs of %s: %w", ns.name(), err)
		}
		err := retry(ctx, func() error {
			var err error
			node, err = readMacvtapSysfs(sys, name)
			return err
		})
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return notFoundf("macvtap %q not found in %s: %w", name, ns.name(), err)
			}
			return err
		}
		if index != 0 && node.index != index {
			return notFoundf("macvtap %q in %s has ifindex %d, not %d: the device was replaced", name, ns.name(), node.index, index)
		}
		path := filepath.Join(dir, "tap")
		if err := unix.Mknod(path, unix.S_IFCHR|0o600, int(node.dev)); err != nil {
			return fmt.Errorf("mknod %d:%d: %w", unix.Major(node.dev), unix.Minor(node.dev), err)
		}
		for range queues {
			var fd int
			err := retry(ctx, func() error {
				var err error
				fd, err = unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
				return err
			})
			if err != nil {
				return fmt.Errorf("open tap device %d:%d: %w", unix.Major(node.dev), unix.Minor(node.dev), err)
			}
			fds = append(fds, fd)
		}
		return nil
	})
	if err != nil {
		closeAll(nil, fds)
		return nil, err
	}
	flags := tunFlags(opts.vnetHdr(), queues > 1)
	for _, fd := range fds {
		if err := tunSetIff(fd, "", flags); err != nil {
			closeAll(nil, fds)
			return nil, fmt.Errorf("TUNSETIFF: %w", err)
		}
		if err := verifyQueue(fd, name, flags); err != nil {
			closeAll(nil, fds)
			return nil, err
		}
		mac, err := tapHWAddr(fd)
		if err != nil {
			closeAll(nil, fds)
			return nil, fmt.Errorf("SIOCGIFHWADDR: %w", err)
		}
		if mac.String() != node.mac {
			closeAll(nil, fds)
			return nil, fmt.Errorf("opened a macvtap with MAC %s, but %q in %s has %s", mac, name, ns.name(), node.mac)
		}
	}
	return wrapFiles(fds, name), nil
}

// verifyQueue checks with TUNGETIFF that fd is a queue of the device name
// with the wanted flags.
func verifyQueue(fd int, name string, flags uint16) error {
	got, gotFlags, err := tunGetIff(fd)
	if err != nil {
		return fmt.Errorf("TUNGETIFF: %w", err)
	}
	if got != name {
		return fmt.Errorf("opened device %q, not %q", got, name)
	}
	if gotFlags&tunFeatureMask != flags {
		return fmt.Errorf("device %q has flags %#x after TUNSETIFF %#x", name, gotFlags&tunFeatureMask, flags)
	}
	return nil
}

func wrapFiles(fds []int, name string) []*os.File {
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), fmt.Sprintf("%s-q%d", name, i))
	}
	return files
}

// openTap attaches queues to the existing tap name (ifindex index, 0 =
// any) in the namespace at nsPath. /dev/net/tun is opened inside that
// namespace, since TUNSETIFF looks the name up in the namespace the file was
// opened in; and since TUNSETIFF creates a missing device, the device is
// looked up before and after.
func openTap(ctx context.Context, nsPath, name string, index int, opts *OpenOptions) ([]*os.File, error) {
	queues, err := opts.queues()
	if err != nil {
		return nil, err
	}
	return inNetns(ctx, nsPath, func(ns *nsRef, h *netlink.Handle) ([]*os.File, error) {
		return openTapIn(ctx, ns, h, name, index, queues, opts)
	})
}

func openTapIn(ctx context.Context, ns *nsRef, h *netlink.Handle, name string, index, queues int, opts *OpenOptions) ([]*os.File, error) {
	nl, err := lookup(h, ns, "tap", name)
	if err != nil {
		return nil, err
	}
	tt, ok := nl.(*netlink.Tuntap)
	if !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
		return nil, invalidf("%q in %s is a %s, not a tap", name, ns.name(), describe(nl))
	}
	if index != 0 && tt.Index != index {
		return nil, notFoundf("tap %q in %s has ifindex %d, not %d: the device was replaced", name, ns.name(), tt.Index, index)
	}
	mq := tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0
	if queues > 1 && !mq {
		return nil, invalidf("tap %q is single-queue, cannot open %d queues", name, queues)
	}

	fds, err := openTun(ns, queues, unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	flags := tunFlags(opts.vnetHdr(), mq)
	for _, fd := range fds {
		if err := tunAttach(ctx, fd, name, flags); err != nil {
			closeAll(nil, fds)
			if errors.Is(err, unix.EBUSY) {
				return nil, fmt.Errorf("TUNSETIFF: tap %q is single-queue and already attached: %w", name, err)
			}
			return nil, fmt.Errorf("TUNSETIFF: %w", err)
		}
		if err := verifyQueue(fd, name, flags); err != nil {
			closeAll(nil, fds)
			return nil, err
		}
	}
	// Had the tap vanished before TUNSETIFF, the kernel made a new one.
	after, err := h.LinkByName(name)
	if err != nil || after.Attrs().Index != tt.Index {
		closeAll(nil, fds)
		return nil, notFoundf("tap %q in %s disappeared while it was being opened", name, ns.name())
	}
	return wrapFiles(fds, name), nil
}

// openTun opens /dev/net/tun n times inside ns (TUNSETIFF looks names up
// in the namespace the file was opened in), with extra open flags. On
// error nothing stays open.
func openTun(ns *nsRef, n, flags int) ([]int, error) {
	var fds []int
	err := ns.do(func() error {
		for range n {
			fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|flags, 0)
			if err != nil {
				return fmt.Errorf("open /dev/net/tun: %w", err)
			}
			fds = append(fds, fd)
		}
		return nil
	})
	if err != nil {
		closeAll(nil, fds)
		return nil, err
	}
	return fds, nil
}

// describe names a link's kind for messages.
func describe(l netlink.Link) string {
	if tt, ok := l.(*netlink.Tuntap); ok && tt.Mode == netlink.TUNTAP_MODE_TUN {
		return "tun"
	}
	return l.Type()
}
