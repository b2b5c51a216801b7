package guest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strings"
)

// netModules are the modules the guest loads, in load order (the kernel
// package ships no modules.dep to compute it from).
var netModules = []string{
	"virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
	"virtio_pci", "failover", "net_failover", "virtio_net",
}

// moduleSuffixes are the module file names the kernel package may ship.
var moduleSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// kernelFiles is what the guest needs from a kernel image package.
type kernelFiles struct {
	version string            // e.g. "6.1.0-56-cloud-amd64"
	vmlinuz []byte            // boot/vmlinuz-<version>
	modules map[string][]byte // module name → uncompressed .ko
	order   []string          // modules to load, in order (built-in ones left out)
}

// extractKernel reads vmlinuz and the network modules from a kernel image
// .deb with dpkg-deb, without installing or unpacking the rest.
func extractKernel(ctx context.Context, deb string) (*kernelFiles, error) {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dpkg-deb: %w", err)
	}
	kf, rerr := readKernelTar(ctx, out)
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if werr != nil {
		return nil, fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w: %s", deb, werr, strings.TrimSpace(stderr.String()))
	}
	return kf, rerr
}

// readKernelTar picks the guest's files out of a kernel package's data tar.
func readKernelTar(ctx context.Context, r io.Reader) (*kernelFiles, error) {
	want := make(map[string]bool, len(netModules))
	for _, m := range netModules {
		want[m] = true
	}
	raw := make(map[string][]byte) // module name → file as shipped
	names := make(map[string]string)
	var vmlinuz []byte
	var version string
	builtin := make(map[string]bool)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read package data: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		switch {
		case strings.HasPrefix(p, "boot/vmlinuz-"):
			v := strings.TrimPrefix(p, "boot/vmlinuz-")
			if version != "" && version != v {
				return nil, fmt.Errorf("package holds two kernels: %s and %s", version, v)
			}
			version = v
			if vmlinuz, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
		case isModulesPath(p) && path.Base(p) == "modules.builtin":
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
			for _, l := range strings.Split(string(b), "\n") {
				if l != "" {
					builtin[moduleName(path.Base(l))] = true
				}
			}
		case isModulesPath(p):
			m := moduleName(path.Base(p))
			if !want[m] || m == path.Base(p) {
				continue
			}
			if prev, dup := names[m]; dup {
				return nil, fmt.Errorf("module %s found twice: %s and %s", m, prev, p)
			}
			names[m] = p
			if raw[m], err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
		}
	}
	if vmlinuz == nil {
		return nil, errors.New("package holds no boot/vmlinuz-*")
	}
	kf := &kernelFiles{version: version, vmlinuz: vmlinuz, modules: make(map[string][]byte)}
	for _, m := range netModules {
		b, ok := raw[m]
		if !ok {
			if builtin[m] {
				continue
			}
			return nil, fmt.Errorf("kernel %s has module %s neither as a file nor built in", version, m)
		}
		ko, err := decompressModule(ctx, names[m], b)
		if err != nil {
			return nil, err
		}
		kf.modules[m] = ko
		kf.order = append(kf.order, m)
	}
	return kf, nil
}

// isModulesPath reports whether p lies under (usr/)lib/modules/.
func isModulesPath(p string) bool {
	return strings.HasPrefix(p, "lib/modules/") || strings.HasPrefix(p, "usr/lib/modules/")
}

// moduleName returns a module's name from its file name ("virtio.ko.xz" →
// "virtio"), or the file name itself when it is no module.
func moduleName(file string) string {
	for _, s := range moduleSuffixes {
		if n, ok := strings.CutSuffix(file, s); ok {
			return n
		}
	}
	return file
}
