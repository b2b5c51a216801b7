package guest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed rootfs/init rootfs/udhcpc.sh rootfs/exec.sh
var rootfsFS embed.FS

// rootfsFiles maps the embedded scripts to their paths in the guest.
var rootfsFiles = []struct{ src, dst string }{
	{"rootfs/init", "init"},
	{"rootfs/udhcpc.sh", "etc/udhcpc.sh"},
	{"rootfs/exec.sh", "etc/nicplug-exec.sh"},
}

// initramfsFormat is bumped when the layout built here changes in a way the
// scripts' hash does not show.
const initramfsFormat = "nicplug-guest-initramfs-1"

// initramfsKey hashes everything the initramfs is made of besides the
// kernel's modules (which the cache keys by package version).
func initramfsKey(busybox []byte, order []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", initramfsFormat, strings.Join(order, ","))
	for _, f := range rootfsFiles {
		b, _ := rootfsFS.ReadFile(f.src)
		fmt.Fprintf(h, "%s %d\n", f.dst, len(b))
		h.Write(b)
	}
	h.Write(busybox)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// checkStatic fails unless b is an x86-64 ELF executable with no program
// interpreter: the guest has no libc to run a dynamic busybox.
func checkStatic(path string, b []byte) error {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s is not an ELF executable: %w", path, err)
	}
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%s is for %v, not x86-64", path, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: install busybox-static", path)
		}
	}
	return nil
}

// buildInitramfs returns the gzip-compressed newc initramfs: busybox, the
// scripts and the modules (in load order, listed in /lib/modules/load).
func buildInitramfs(busybox []byte, modules map[string][]byte, order []string) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	cw := NewCPIOWriter(zw)
	entries := []CPIOEntry{}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "tmp", "etc", "lib", "lib/modules"} {
		entries = append(entries, CPIOEntry{Name: d, Mode: fs.ModeDir | 0o755})
	}
	entries = append(entries,
		CPIOEntry{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		CPIOEntry{Name: "bin/busybox", Mode: 0o755, Data: busybox},
		CPIOEntry{Name: "bin/sh", Mode: fs.ModeSymlink | 0o777, Data: []byte("busybox")},
	)
	for _, f := range rootfsFiles {
		b, err := rootfsFS.ReadFile(f.src)
		if err != nil {
			return nil, err
		}
		entries = append(entries, CPIOEntry{Name: f.dst, Mode: 0o755, Data: b})
	}
	var load strings.Builder
	for _, m := range order {
		ko, ok := modules[m]
		if !ok {
			return nil, fmt.Errorf("module %s missing", m)
		}
		entries = append(entries, CPIOEntry{Name: "lib/modules/" + m + ".ko", Mode: 0o644, Data: ko})
		load.WriteString(m + "\n")
	}
	entries = append(entries, CPIOEntry{Name: "lib/modules/load", Mode: 0o644, Data: []byte(load.String())})
	for _, e := range entries {
		if err := cw.WriteEntry(e); err != nil {
			return nil, err
		}
	}
	if err := cw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
