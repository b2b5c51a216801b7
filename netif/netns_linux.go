package netif

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsRef is an open network namespace.
type nsRef struct {
	// path is the namespace's path, "" for the caller's.
	path string
	// fd is open on the namespace.
	fd netns.NsHandle
}

// openNetns opens the namespace at path ("" = the calling thread's) and
// checks that it is a network namespace.
func openNetns(path string) (*nsRef, error) {
	var (
		fd  netns.NsHandle
		err error
	)
	if path == "" {
		fd, err = netns.Get()
	} else {
		fd, err = netns.GetFromPath(path)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, notFoundf("network namespace %q: %w", path, err)
		}
		return nil, fmt.Errorf("network namespace %q: %w", path, err)
	}
	typ, err := unix.IoctlRetInt(int(fd), unix.NS_GET_NSTYPE)
	if err != nil || typ != unix.CLONE_NEWNET {
		fd.Close()
		if err != nil {
			return nil, invalidf("%q is not a network namespace: %w", path, err)
		}
		return nil, invalidf("%q is not a network namespace (type %#x)", path, typ)
	}
	return &nsRef{path: path, fd: fd}, nil
}

func (n *nsRef) Close() { n.fd.Close() }

// name is the namespace for messages.
func (n *nsRef) name() string {
	if n.path == "" {
		return "the caller's network namespace"
	}
	return "network namespace " + n.path
}

// handle returns a route netlink handle whose socket lives in the namespace.
func (n *nsRef) handle() (*netlink.Handle, error) {
	if n.path == "" {
		return netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	var h *netlink.Handle
	err := n.do(func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink socket in %s: %w", n.name(), err)
	}
	return h, nil
}

// do runs fn with the calling thread's namespace set to n. For the caller's
// own namespace it just calls fn; otherwise fn runs on a goroutine locked to
// its OS thread. If that thread's namespace cannot be restored afterwards,
// the goroutine exits without unlocking, and the Go runtime destroys the
// thread instead of reusing it. Everything it opened is closed by the time
// it returns.
func (n *nsRef) do(fn func() error) error {
	if n.path == "" {
		return fn()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := n.enter(fn)
		if restored {
			runtime.UnlockOSThread()
		} // else stay locked: this thread must never run another goroutine
		done <- err
	}()
	return <-done
}

// enter runs fn on the locked calling thread switched to n, then switches
// it back; restored reports whether the thread is in its own namespace
// again. The handle on that namespace is closed before enter returns, so
// that do's caller never sees it open.
func (n *nsRef) enter(fn func() error) (restored bool, err error) {
	orig, err := netns.Get()
	if err != nil {
		return true, fmt.Errorf("get thread's network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(n.fd); err != nil {
		// A failed setns leaves the thread as it was.
		return true, fmt.Errorf("enter %s: %w", n.name(), err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return false, errors.Join(ferr, fmt.Errorf("restore thread's network namespace: %w", err))
	}
	return true, ferr
}

// onThrowawayThread runs fn on a goroutine locked to an OS thread that is
// destroyed afterwards (the goroutine exits locked). fn may change anything
// about its thread: namespaces, mounts, working directory.
func onThrowawayThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		done <- fn()
	}()
	return <-done
}

// linkNotFound reports whether err from netlink means "no such device".
func linkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}

// lookup finds a link by name; a missing link matches os.ErrNotExist.
func lookup(h *netlink.Handle, ns *nsRef, what, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		if linkNotFound(err) {
			return nil, notFoundf("%s %q not found in %s", what, name, ns.name())
		}
		return nil, fmt.Errorf("look up %s %q: %w", what, name, err)
	}
	return l, nil
}

// inNetns checks ctx, then runs f with the namespace at nsPath ("" = the
// caller's) and a netlink handle in it, both closed when f returns.
func inNetns[T any](ctx context.Context, nsPath string, f func(ns *nsRef, h *netlink.Handle) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	ns, err := openNetns(nsPath)
	if err != nil {
		return zero, err
	}
	defer ns.Close()
	h, err := ns.handle()
	if err != nil {
		return zero, err
	}
	defer h.Close()
	return f(ns, h)
}
