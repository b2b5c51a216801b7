//go:build !unix

package main

import (
	"errors"
	"fmt"
	"os"
)

// openLockFile opens (creating it) the lock file at path.
func openLockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

// tryLock cannot lock on this GOOS (no flock): commands on one VM are not
// serialized across processes here.
func tryLock(*os.File) (bool, error) { return true, nil }

// netnsID knows only this process's namespace: there are no network
// namespaces on this GOOS.
func netnsID(path string) (nsID, error) {
	if path == "" {
		return nsID{}, nil
	}
	return nsID{}, fmt.Errorf("network namespace %s: %w", path, errors.ErrUnsupported)
}

// hardLinks is 1: nicplug does not count hard links on this GOOS.
func hardLinks(os.FileInfo) uint64 { return 1 }

// openInput opens an input file for reading.
func openInput(path string) (*os.File, error) { return os.Open(path) }

// keepOwner does nothing: files have no Unix owner on this GOOS.
func keepOwner(*os.File, os.FileInfo) error { return nil }
