package guest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// CacheEnv names the environment variable that overrides the asset cache
// directory.
const CacheEnv = "NICPLUG_GUEST_CACHE"

// DefaultKernelPackage is the apt package the kernel comes from: Debian's
// cloud kernel, which boots in about 2 s under TCG (lz4, few drivers).
const DefaultKernelPackage = "linux-image-cloud-amd64"

// BuildConfig configures [Build]. The zero value (or nil) builds from
// Debian's current cloud kernel and the host's busybox-static.
type BuildConfig struct {
	// CacheDir holds the built assets between runs. Empty means
	// $NICPLUG_GUEST_CACHE, else nicplug/guest under the user's cache
	// directory ($XDG_CACHE_HOME or ~/.cache).
	CacheDir string
	// KernelPackage is the apt package to take the kernel from: a meta
	// package that depends on a versioned linux-image-<version> package,
	// or a versioned one. Empty means DefaultKernelPackage.
	KernelPackage string
	// KernelDeb is a kernel image .deb to use instead of asking apt.
	// Empty means download KernelPackage with apt-get.
	KernelDeb string
	// Refresh resolves KernelPackage with apt even when a kernel is
	// cached for it, to pick up a newer package version. False means use
	// the kernel that the last resolution of KernelPackage cached (see
	// Build) and ask apt only when there is none.
	Refresh bool
	// Busybox is a statically linked busybox for the initramfs. Empty
	// means /bin/busybox (Debian's busybox-static).
	Busybox string
	// Logger, when set, receives a line per build step (download,
	// extraction, initramfs). Nil logs nothing.
	Logger *slog.Logger
}

// Assets are the files a guest boots from.
type Assets struct {
	// Kernel is the path of the bzImage (vmlinuz).
	Kernel string
	// Initrd is the path of the gzip-compressed newc initramfs.
	Initrd string
	// KernelVersion is the kernel release, e.g. "6.1.0-56-cloud-amd64".
	KernelVersion string
	// Package is the kernel's package and version, "name=version".
	Package string
	// Disk, when set, is a root file system image (raw ext4) that the
	// guest boots from, read-only (QEMU's snapshot=on): a distribution
	// guest from [BuildDistro]. Empty for the busybox initramfs guest.
	Disk string
	// Stack is a distribution guest's network stack; empty for the
	// busybox guest.
	Stack Stack
}

// Build returns the guest's kernel and initramfs, building them into the
// cache unless a build for the same kernel package version, scripts and
// busybox is already there. The kernel package is resolved to a version
// with apt-cache (a few seconds), fetched with apt-get download (running
// apt-get update first when the package lists lack it, which needs root) and
// read with dpkg-deb; nothing is installed on the host. Each resolution
// records its result in the cache (a file latest-<package>), and later
// builds use that kernel without asking apt unless BuildConfig.Refresh is
// set or the kernel is gone from the cache. Concurrent builds into one cache
// are safe.
func Build(ctx context.Context, cfg *BuildConfig) (*Assets, error) {
	if cfg == nil {
		cfg = &BuildConfig{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache, err := cacheDir(cfg.CacheDir)
	if err != nil {
		return nil, newOpError("build", err)
	}
	bbPath := cfg.Busybox
	if bbPath == "" {
		bbPath = "/bin/busybox"
	}
	busybox, err := os.ReadFile(bbPath)
	if err != nil {
		return nil, newOpError("build", fmt.Errorf("read busybox (apt-get install busybox-static): %w", err))
	}
	if err := checkStatic(bbPath, busybox); err != nil {
		return nil, newOpError("build", err)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, newOpError("build", err)
	}

	kdir, err := kernelDir(ctx, cache, cfg, log)
	if err != nil {
		return nil, err
	}
	k, err := loadKernelDir(kdir)
	if err != nil {
		return nil, newOpError("read cached kernel", err)
	}
	initrd := filepath.Join(kdir, "initrd-"+initramfsKey(busybox, k.order)+".gz")
	if _, err := os.Stat(initrd); err != nil {
		log.Info("building initramfs", "path", initrd)
		b, err := buildInitramfs(busybox, k.modules, k.order)
		if err != nil {
			return nil, newOpError("build initramfs", err)
		}
		if err := writeFileAtomic(initrd, b); err != nil {
			return nil, newOpError("build initramfs", err)
		}
	}
	return &Assets{
		Kernel:        filepath.Join(kdir, "vmlinuz"),
		Initrd:        initrd,
		KernelVersion: k.version,
		Package:       strings.ReplaceAll(filepath.Base(kdir), "_", "="),
	}, nil
}

// cacheDir returns the cache directory to use.
func cacheDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set %s): %w", CacheEnv, err)
	}
	return filepath.Join(d, "nicplug", "guest"), nil
}

// kernelDir returns the cache directory holding the kernel files of the
// configured package, filling it when absent.
func kernelDir(ctx context.Context, cache string, cfg *BuildConfig, log *slog.Logger) (string, error) {
	if cfg.KernelDeb != "" {
		out, err := aptRun(ctx, "", "dpkg-deb", "-f", cfg.KernelDeb, "Package", "Version")
		if err != nil {
			return "", newOpError("read kernel package", err)
		}
		var name, version string
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "Package: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(l, "Version: "); ok {
				version = v
			}
		}
		if name == "" || version == "" {
			return "", newOpError("read kernel package", fmt.Errorf("%s has no Package/Version fields", cfg.KernelDeb))
		}
		dir := filepath.Join(cache, dirName(name, version))
		if complete(dir) {
			return dir, nil
		}
		return dir, fillKernelDir(ctx, dir, cfg.KernelDeb, log)
	}

	pkg := cfg.KernelPackage
	if pkg == "" {
		pkg = DefaultKernelPackage
	}
	if !cfg.Refresh {
		if dir := latest(cache, pkg); dir != "" {
			log.Info("using the cached kernel of the last resolution", "package", pkg, "dir", dir)
			return dir, nil
		}
	}
	dir, err := resolveKernelDir(ctx, cache, pkg, log)
	if err != nil {
		return "", err
	}
	if err := setLatest(cache, pkg, dir); err != nil {
		return "", newOpError("record resolved kernel", err)
	}
	return dir, nil
}

// latestPrefix starts the name of the file that records, per kernel
// package, the cache directory its last resolution filled.
const latestPrefix = "latest-"

// latest returns the complete kernel directory that the last resolution of
// pkg recorded, or "".
func latest(cache, pkg string) string {
	b, err := os.ReadFile(filepath.Join(cache, latestPrefix+pkg))
	if err != nil {
		return ""
	}
	name := strings.TrimSpace(string(b))
	// A name, not a path: the file cannot point outside the cache.
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return ""
	}
	dir := filepath.Join(cache, name)
	if !complete(dir) {
		return ""
	}
	return dir
}

// setLatest records dir as the result of resolving pkg.
func setLatest(cache, pkg, dir string) error {
	return writeFileAtomic(filepath.Join(cache, latestPrefix+pkg), []byte(filepath.Base(dir)+"\n"))
}

// resolveKernelDir resolves pkg with apt and returns its version's cache
// directory, downloading and filling it when absent.
func resolveKernelDir(ctx context.Context, cache, pkg string, log *slog.Logger) (string, error) {
	if _, err := exec.LookPath("apt-cache"); err != nil {
		// Not a Debian host: use a kernel cached earlier, if any.
		if dir := newestCached(cache); dir != "" {
			log.Info("apt-cache not found, using cached kernel", "dir", dir)
			return dir, nil
		}
		return "", newOpError("resolve kernel package", fmt.Errorf("apt-cache not found and nothing cached in %s: %w", cache, err))
	}
	updated := false
	name, version, err := resolveKernel(ctx, pkg)
	if err != nil {
		log.Info("resolving kernel package failed, running apt-get update", "err", err)
		if uerr := aptUpdate(ctx); uerr != nil {
			return "", newOpError("resolve kernel package", errors.Join(err, uerr))
		}
		updated = true
		if name, version, err = resolveKernel(ctx, pkg); err != nil {
			return "", newOpError("resolve kernel package", err)
		}
	}
	dir := filepath.Join(cache, dirName(name, version))
	if complete(dir) {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(cache, ".download-")
	if err != nil {
		return "", newOpError("download kernel package", err)
	}
	defer os.RemoveAll(tmp)
	log.Info("downloading kernel package", "package", name, "version", version)
	deb, err := aptDownload(ctx, tmp, name, version)
	if err != nil && !updated {
		// Lists older than the archive (404) or missing: refresh once.
		log.Info("download failed, running apt-get update", "err", err)
		if uerr := aptUpdate(ctx); uerr != nil {
			return "", newOpError("download kernel package", errors.Join(err, uerr))
		}
		if name, version, err = resolveKernel(ctx, pkg); err != nil {
			return "", newOpError("resolve kernel package", err)
		}
		dir = filepath.Join(cache, dirName(name, version))
		if complete(dir) {
			return dir, nil
		}
		deb, err = aptDownload(ctx, tmp, name, version)
	}
	if err != nil {
		return "", newOpError("download kernel package", err)
	}
	return dir, fillKernelDir(ctx, dir, deb, log)
}

// dirName is the cache directory name of a package version.
func dirName(name, version string) string {
	return name + "_" + strings.ReplaceAll(version, ":", "%3a")
}

// complete reports whether a kernel cache directory was fully written.
func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "modules", "load"))
	return err == nil
}

// newestCached returns the most recently written kernel directory in cache,
// or "".
func newestCached(cache string) string {
	ents, err := os.ReadDir(cache)
	if err != nil {
		return ""
	}
	type cand struct {
		dir string
		mod int64
	}
	var cs []cand
	for _, e := range ents {
		d := filepath.Join(cache, e.Name())
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "linux-image-") || !complete(d) {
			continue
		}
		if fi, err := e.Info(); err == nil {
			cs = append(cs, cand{d, fi.ModTime().UnixNano()})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].mod > cs[j].mod })
	if len(cs) == 0 {
		return ""
	}
	return cs[0].dir
}

// fillKernelDir extracts deb's kernel files into dir (vmlinuz, version,
// modules/NAME.ko, modules/load), atomically: a concurrent builder that
// finishes first wins and this one's copy is dropped.
func fillKernelDir(ctx context.Context, dir, deb string, log *slog.Logger) error {
	log.Info("extracting kernel package", "deb", deb)
	kf, err := extractKernel(ctx, deb)
	if err != nil {
		return newOpError("extract kernel package", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".kernel-")
	if err != nil {
		return newOpError("extract kernel package", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return newOpError("extract kernel package", err)
	}
	files := map[string][]byte{
		"vmlinuz": kf.vmlinuz,
		"version": []byte(kf.version + "\n"),
	}
	var load strings.Builder
	for _, m := range kf.order {
		files["modules/"+m+".ko"] = kf.modules[m]
		load.WriteString(m + "\n")
	}
	if err := os.Mkdir(filepath.Join(tmp, "modules"), 0o755); err != nil {
		return newOpError("extract kernel package", err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return newOpError("extract kernel package", err)
		}
	}
	// Written last: its presence marks the directory complete.
	if err := os.WriteFile(filepath.Join(tmp, "modules", "load"), []byte(load.String()), 0o644); err != nil {
		return newOpError("extract kernel package", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if complete(dir) {
			return nil // another builder won the race
		}
		return newOpError("extract kernel package", err)
	}
	return nil
}

// loadKernelDir reads a kernel cache directory back.
func loadKernelDir(dir string) (*kernelFiles, error) {
	v, err := os.ReadFile(filepath.Join(dir, "version"))
	if err != nil {
		return nil, err
	}
	load, err := os.ReadFile(filepath.Join(dir, "modules", "load"))
	if err != nil {
		return nil, err
	}
	kf := &kernelFiles{version: strings.TrimSpace(string(v)), modules: make(map[string][]byte)}
	for _, m := range strings.Fields(string(load)) {
		b, err := os.ReadFile(filepath.Join(dir, "modules", m+".ko"))
		if err != nil {
			return nil, err
		}
		kf.modules[m] = b
		kf.order = append(kf.order, m)
	}
	if _, err := os.Stat(filepath.Join(dir, "vmlinuz")); err != nil {
		return nil, err
	}
	return kf, nil
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), 0o644)); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
