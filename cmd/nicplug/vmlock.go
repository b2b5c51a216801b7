package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// lockSuffix names a VM's lock file: the monitor socket's path plus it.
const lockSuffix = ".nicplug-lock"

// vmLock is the per-VM lock every command that talks to QEMU holds for
// its whole run: an exclusive flock on a file beside the monitor socket,
// so that commands on one VM from different processes never interleave
// (one of them would plan from a state the other is changing, or save a
// DOMAIN.xml read before the other saved its own). The file stays after
// the command: removing a lock file races with the next command taking it.
type vmLock struct {
	f *os.File
}

// lockPath is the lock file of the VM behind monitor socket sock. The
// socket's path is resolved (see [sidecarPath]), so every path to one
// socket shares its lock.
func lockPath(sock string) string {
	return sidecarPath(sock, lockSuffix)
}

// sidecarPath is sock's fully resolved path (see [resolveSocket]) plus
// suffix: the VM's lock and host device record are named after the
// socket, not after the --qmp string that reached it.
func sidecarPath(sock, suffix string) string {
	return resolveSocket(sock) + suffix
}

// maxSymlinks bounds the symlinks resolveSocket follows (Linux's ELOOP
// limit).
const maxSymlinks = 40

// resolveSocket returns sock's absolute path with every symlink resolved:
// its directory's and its own, the final one followed even when what it
// points to is gone (the socket of an exited QEMU), so that a command on
// a symlink to a socket finds the lock and record of the socket itself.
func resolveSocket(sock string) string {
	abs, err := filepath.Abs(sock)
	if err != nil {
		return sock
	}
	for range maxSymlinks {
		if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			abs = filepath.Join(dir, filepath.Base(abs))
		}
		target, err := os.Readlink(abs)
		if err != nil {
			return abs // not a symlink, or nothing there
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(abs), target)
		}
		abs = filepath.Clean(target)
	}
	return abs
}

// checkHardLinks refuses a monitor socket with more than one hard link:
// its lock and record are named after its path, which another link would
// not share, so two commands reaching it by different links would neither
// wait for each other nor see each other's host devices.
func checkHardLinks(sock string, fi os.FileInfo) error {
	if n := hardLinks(fi); n > 1 {
		return usageErrorf("--qmp %s: the socket has %d hard links: the VM's lock and host device record are named after the socket's path, which a command given another link would bypass: remove the other links",
			cutString(sock, 200), n)
	}
	return nil
}

// lockPoll is how often a waiting command retries the lock.
const lockPoll = 20 * time.Millisecond

// lockVM takes the lock of the VM behind sock, waiting until ctx ends
// for another command to release it.
// A path that does not exist or is not a socket gets no lock (and no lock
// file beside it: --qmp /etc/passwd must not create /etc/passwd.nicplug-lock):
// there is no VM to serialize, and connecting reports the error. A
// socket with another hard link is refused (see [checkHardLinks]).
func lockVM(ctx context.Context, sock string) (*vmLock, error) {
	fi, err := os.Stat(sock)
	if errors.Is(err, os.ErrNotExist) || (err == nil && fi.Mode().Type() != os.ModeSocket) {
		return &vmLock{}, nil
	}
	if err == nil {
		if err := checkHardLinks(sock, fi); err != nil {
			return nil, err
		}
	}
	path := lockPath(sock)
	f, err := openLockFile(path)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		locked, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if locked {
			break
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			holder := readHolder(f)
			f.Close()
			return nil, fmt.Errorf("another nicplug command%s is working on this VM and holds %s: gave up waiting: %w",
				holder, path, ctx.Err())
		}
	}
	// Who holds it, for the message of a command that waits in vain.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &vmLock{f: f}, nil
}

// readHolder returns " (pid N)" from the lock file, or "".
func readHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", pid)
}

// unlock releases the lock (closing the file drops the flock).
func (l *vmLock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
