//go:build unix

package qmp

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// unixRights duplicates the files' descriptors (close-on-exec, without
// touching the originals' blocking mode as (*os.File).Fd would) and returns
// the SCM_RIGHTS control message carrying them and a function closing the
// duplicates. The kernel installs its own copies in QEMU at sendmsg time,
// so the duplicates can go as soon as the command is written.
func unixRights(files []*os.File) ([]byte, func(), error) {
	fds := make([]int, 0, len(files))
	release := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	for i, f := range files {
		if f == nil {
			release()
			return nil, nil, fmt.Errorf("file %d is nil", i)
		}
		sc, err := f.SyscallConn()
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("file %q: %w", f.Name(), err)
		}
		var dup int
		var dupErr error
		if err := sc.Control(func(fd uintptr) {
			dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		}); err != nil {
			release()
			return nil, nil, fmt.Errorf("file %q: %w", f.Name(), err)
		}
		if dupErr != nil {
			release()
			return nil, nil, fmt.Errorf("file %q: dup: %w", f.Name(), dupErr)
		}
		fds = append(fds, dup)
	}
	return syscall.UnixRights(fds...), release, nil
}
