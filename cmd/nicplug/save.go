package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nicplug/nicplug/domain"
)

// saveDomain writes the domain next to DOMAIN.xml at path: orig (the bytes
// old was parsed from) with the <interface> elements that changed replaced
// (domain.Splice), everything else kept byte for byte.
func saveDomain(path string, orig []byte, old, next *domain.Domain) error {
	out, err := domain.Splice(orig, old, next)
	if err != nil {
		return fmt.Errorf("cannot save %s: %w", path, err)
	}
	if string(out) == string(orig) {
		return nil
	}
	return writeFileAtomic(path, out)
}

// writeFileAtomic replaces the file at path with data, safely: data goes to
// a new temporary file created exclusively (O_EXCL, so never through a
// symlink) under a random name in the same directory, with the file's
// permissions and owner, is synced, then renamed over the file, and the
// directory is synced. If path is a symlink, the file it points to is
// replaced (the link stays). On failure the temporary file is removed and
// the file is untouched.
func writeFileAtomic(path string, data []byte) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("cannot save %s: %w", path, err)
		}
	}()
	target := path
	if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return err
		}
	}
	fi, err := os.Stat(target)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".nicplug-*.tmp") // O_RDWR|O_CREATE|O_EXCL, mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := keepOwner(f, fi); err != nil {
		return err
	}
	if err := f.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
