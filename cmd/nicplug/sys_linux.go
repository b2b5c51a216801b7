package main

import "golang.org/x/sys/unix"

// checkNetns refuses a --netns path that is not a network namespace (a
// missing file, a regular file, another kind of namespace) before the
// command does anything: exit status 2.
func checkNetns(path string) error {
	if path == "" {
		return nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return usageErrorf("--netns %s: %w", cutString(path, 200), err)
	}
	defer unix.Close(fd)
	typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	switch {
	case err != nil:
		return usageErrorf("--netns %s is not a network namespace (%v): give /run/netns/NAME or /proc/PID/ns/net", cutString(path, 200), err)
	case typ != unix.CLONE_NEWNET:
		return usageErrorf("--netns %s is another kind of namespace, not a network namespace: give /run/netns/NAME or /proc/PID/ns/net", cutString(path, 200))
	}
	return nil
}
