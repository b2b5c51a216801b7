package guest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AssetsVar names a directory of busybox guest assets written by
// [WriteAssets]: when it is set, [Start] boots from them instead of
// calling [Build]. [RunGoTests] sets it for a test binary that boots the
// busybox guest inside a distribution guest (GoTest.Guest), which has
// neither the host's cache nor, under some CI, the network to build one.
const AssetsVar = "NICPLUG_GUEST_ASSETS"

// The files of an assets directory.
const (
	assetsKernel = "vmlinuz"
	assetsInitrd = "initrd.gz"
	assetsInfo   = "assets" // "version V" and "package P" lines
)

// WriteAssets copies a busybox guest's kernel and initramfs into dir
// (created if needed) with a file naming their kernel version and
// package, for [ReadAssets].
func WriteAssets(a *Assets, dir string) error {
	if a == nil || a.Disk != "" {
		return newOpError("write assets", errors.New("want the busybox guest's assets (no Disk)"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return newOpError("write assets", err)
	}
	for src, dst := range map[string]string{a.Kernel: assetsKernel, a.Initrd: assetsInitrd} {
		if err := copyFile(filepath.Join(dir, dst), src); err != nil {
			return newOpError("write assets", err)
		}
	}
	info := fmt.Sprintf("version %s\npackage %s\n", a.KernelVersion, a.Package)
	return newOpError("write assets", os.WriteFile(filepath.Join(dir, assetsInfo), []byte(info), 0o644))
}

// ReadAssets returns the assets [WriteAssets] wrote into dir.
func ReadAssets(dir string) (*Assets, error) {
	b, err := os.ReadFile(filepath.Join(dir, assetsInfo))
	if err != nil {
		return nil, newOpError("read assets", err)
	}
	a := &Assets{Kernel: filepath.Join(dir, assetsKernel), Initrd: filepath.Join(dir, assetsInitrd)}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "version "); ok {
			a.KernelVersion = v
		}
		if v, ok := strings.CutPrefix(l, "package "); ok {
			a.Package = v
		}
	}
	if a.KernelVersion == "" {
		return nil, newOpError("read assets", fmt.Errorf("%s names no kernel version", filepath.Join(dir, assetsInfo)))
	}
	for _, p := range []string{a.Kernel, a.Initrd} {
		if _, err := os.Stat(p); err != nil {
			return nil, newOpError("read assets", err)
		}
	}
	return a, nil
}
