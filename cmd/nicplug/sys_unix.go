//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// openLockFile opens (creating it) the lock file at path, never through a
// symlink.
func openLockFile(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// tryLock takes an exclusive flock on f without waiting; locked is false
// when another open file holds it.
func tryLock(f *os.File) (locked bool, _ error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
		return false, nil
	}
	return false, err
}

// netnsID identifies the network namespace at path ("" = the caller's:
// that of this thread, which is every unlocked thread's).
//
// Not /proc/self/ns/net: that is the main thread's, and netif may have
// left the main thread parked in another namespace (a goroutine that
// switched namespaces on it exits locked, and the runtime never ends the
// main thread).
func netnsID(path string) (nsID, error) {
	if path == "" {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		path = "/proc/thread-self/ns/net"
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsID{}, fmt.Errorf("network namespace %s: %w", path, err)
	}
	return nsID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// hardLinks is the number of hard links of the file fi describes.
func hardLinks(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// openInput opens an input file for reading without blocking in open(2):
// a FIFO with no writer would block there for good, deaf to --timeout
// and to SIGINT (which the command catches). Opened O_NONBLOCK, it reads
// as empty; pipes and terminals are read through Go's poller, which
// wakes the read when readFile's context ends.
func openInput(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
}

// keepOwner gives f the owner and group of the file fi describes, when
// this process may (as root): a saved DOMAIN.xml keeps its owner.
func keepOwner(f *os.File, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
