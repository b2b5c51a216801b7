package guest

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
)

// Stack is the network stack of a distribution guest.
type Stack string

// Stacks [BuildDistro] builds.
const (
	// StackNetworkd is systemd-networkd (DHCPv4 on eth0).
	StackNetworkd Stack = "networkd"
	// StackNetworkdQEMU is StackNetworkd with Debian's qemu-system-x86,
	// busybox-static and radvd installed: for tests run inside the guest
	// ([RunGoTests]) that start QEMU themselves, guest-less or booting
	// the busybox guest (nested TCG) on package lab's networks.
	StackNetworkdQEMU Stack = "networkd-qemu"
	// StackNetworkManager is NetworkManager with Debian's defaults (its
	// automatic "Wired connection 1", DHCP).
	StackNetworkManager Stack = "networkmanager"
)

// Distribution guests boot from a disk image with more memory and eth0
// named eth0.
var (
	// DistroMemory is a distribution guest's RAM when Config.Memory is
	// empty.
	DistroMemory = "512M"
	// DistroKernelArgs follow DefaultKernelArgs for a guest with a Disk.
	DistroKernelArgs = []string{"root=/dev/vda", "rw", "net.ifnames=0"}
)

//go:embed distro/build.sh distro/report.sh rootfs/exec.sh
var distroFS embed.FS

// BuildDistro returns a Debian bookworm guest whose network is run by
// stack: its own cloud kernel and initramfs, and a root file system image
// (Assets.Disk) with the stack, a reporter service printing the same
// events as the busybox guest's /init does for carrier (ready, carrier)
// plus addr, deladdr, addr6, deladdr6 and ping (see the Kind constants), and the command
// channel on the second serial port ([Guest.Exec]). It is built with
// mmdebstrap from the host's apt sources (root; about 40 s and 400 MB per
// stack) into the cache (cfg.CacheDir, $NICPLUG_GUEST_CACHE or
// ~/.cache/nicplug/guest), keyed by stack and a hash of the build scripts,
// and reused from there. Concurrent builds are safe (each builds into a
// directory of its own, renamed into place).
func BuildDistro(ctx context.Context, stack Stack, cfg *BuildConfig) (*Assets, error) {
	if cfg == nil {
		cfg = &BuildConfig{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch stack {
	case StackNetworkd, StackNetworkdQEMU, StackNetworkManager:
	default:
		return nil, newOpError("build distro", fmt.Errorf("unknown stack %q", stack))
	}
	cache, err := cacheDir(cfg.CacheDir)
	if err != nil {
		return nil, newOpError("build distro", err)
	}
	key, err := distroKey(stack)
	if err != nil {
		return nil, newOpError("build distro", err)
	}
	dir := filepath.Join(cache, "distro-"+string(stack)+"-"+key)
	a := &Assets{Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img"),
		Disk: filepath.Join(dir, "disk.ext4"), Stack: stack, Package: "debian-bookworm-" + string(stack)}
	if _, err := os.Stat(a.Disk); err == nil {
		return a, nil
	}
	for _, tool := range []string{"mmdebstrap", "mke2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, newOpError("build distro", fmt.Errorf("%s not found (apt-get install mmdebstrap e2fsprogs)", tool))
		}
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, newOpError("build distro", err)
	}
	tmp, err := os.MkdirTemp(cache, ".distro-"+string(stack)+"-")
	if err != nil {
		return nil, newOpError("build distro", err)
	}
	defer os.RemoveAll(tmp)
	scripts := filepath.Join(tmp, "scripts")
	out := filepath.Join(tmp, "out")
	if err := writeDistroScripts(scripts); err != nil {
		return nil, newOpError("build distro", err)
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		return nil, newOpError("build distro", err)
	}
	log.Info("building distribution guest", "stack", stack, "dir", dir)
	cmd := exec.CommandContext(ctx, "/bin/bash", filepath.Join(scripts, "build.sh"), string(stack), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, newOpError("build distro", fmt.Errorf("%s: %w: %s", stack, err, tail(b, 2000)))
	}
	if err := os.Rename(out, dir); err != nil && !os.IsExist(err) {
		if _, serr := os.Stat(a.Disk); serr != nil { // not built by a concurrent build either
			return nil, newOpError("build distro", err)
		}
	}
	return a, nil
}

// distroKey hashes the embedded build scripts and the stack.
func distroKey(stack Stack) (string, error) {
	h := sha256.New()
	h.Write([]byte(stack))
	err := fs.WalkDir(distroFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := distroFS.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16], err
}

// writeDistroScripts writes build.sh, report.sh and exec.sh into dir.
func writeDistroScripts(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range []string{"distro/build.sh", "distro/report.sh", "rootfs/exec.sh"} {
		b, err := distroFS.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
