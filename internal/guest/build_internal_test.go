package guest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"github.com/nicplug/nicplug/internal/testenv"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type tarFile struct {
	name string
	data []byte
}

func makeTar(t *testing.T, files []tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestReadKernelTar(t *testing.T) {
	const kv = "6.1.0-1-cloud-amd64"
	mod := func(dir, name string, data []byte) tarFile {
		return tarFile{"./lib/modules/" + kv + "/kernel/" + dir + "/" + name, data}
	}
	all := func(extra ...tarFile) []tarFile {
		fs := []tarFile{
			{"./boot/vmlinuz-" + kv, []byte("bzImage")},
			{"./boot/config-" + kv, []byte("cfg")},
			{"./lib/modules/" + kv + "/modules.builtin", []byte("kernel/drivers/block/loop.ko\n")},
			mod("drivers/virtio", "virtio_ring.ko", []byte("ring")),
			mod("drivers/virtio", "virtio.ko", []byte("virtio")),
			mod("drivers/virtio", "virtio_pci_modern_dev.ko", []byte("modern")),
			mod("drivers/virtio", "virtio_pci_legacy_dev.ko", []byte("legacy")),
			mod("drivers/virtio", "virtio_pci.ko", []byte("pci")),
			mod("drivers/virtio", "virtio_balloon.ko", []byte("balloon")),
			mod("net/core", "failover.ko", []byte("failover")),
			mod("drivers/net", "net_failover.ko", []byte("net_failover")),
		}
		return append(fs, extra...)
	}
	tests := []struct {
		name    string
		files   []tarFile
		order   []string
		modules map[string]string
		wantErr string
	}{
		{
			name:  "plain modules",
			files: all(mod("drivers/net", "virtio_net.ko", []byte("vnet"))),
			order: netModules,
			modules: map[string]string{"virtio_ring": "ring", "virtio": "virtio", "virtio_pci_modern_dev": "modern",
				"virtio_pci_legacy_dev": "legacy", "virtio_pci": "pci", "failover": "failover", "net_failover": "net_failover", "virtio_net": "vnet"},
		},
		{
			name:  "gzip module",
			files: all(mod("drivers/net", "virtio_net.ko.gz", gz(t, []byte("vnet")))),
			order: netModules,
			modules: map[string]string{"virtio_ring": "ring", "virtio": "virtio", "virtio_pci_modern_dev": "modern",
				"virtio_pci_legacy_dev": "legacy", "virtio_pci": "pci", "failover": "failover", "net_failover": "net_failover", "virtio_net": "vnet"},
		},
		{
			name: "built-in module left out",
			files: append(all()[:2], []tarFile{{"./usr/lib/modules/" + kv + "/modules.builtin",
				[]byte("kernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_pci_modern_dev.ko\n" +
					"kernel/drivers/virtio/virtio_pci_legacy_dev.ko\nkernel/drivers/virtio/virtio_pci.ko\nkernel/net/core/failover.ko\nkernel/drivers/net/net_failover.ko\n")},
				{"./usr/lib/modules/" + kv + "/kernel/drivers/net/virtio_net.ko", []byte("vnet")}}...),
			order:   []string{"virtio_net"},
			modules: map[string]string{"virtio_net": "vnet"},
		},
		{name: "missing module", files: all(), wantErr: "virtio_net neither as a file nor built in"},
		{name: "no kernel", files: all(mod("drivers/net", "virtio_net.ko", nil))[1:], wantErr: "no boot/vmlinuz"},
		{name: "two kernels", files: all(tarFile{"boot/vmlinuz-other", nil}), wantErr: "two kernels"},
		{name: "module twice", files: all(mod("drivers/net", "virtio_net.ko", nil), mod("x", "virtio_net.ko.xz", nil)), wantErr: "found twice"},
		{name: "unknown format", files: all(mod("drivers/net", "virtio_net.ko.bz2", nil)), wantErr: "virtio_net neither"},
		{name: "corrupt gzip", files: all(mod("drivers/net", "virtio_net.ko.gz", []byte("nope"))), wantErr: "decompress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kf, err := readKernelTar(context.Background(), bytes.NewReader(makeTar(t, tt.files)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readKernelTar: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want, got := kv, kf.version; want != got {
				t.Errorf("version: want %s, got %s", want, got)
			}
			if want, got := "bzImage", string(kf.vmlinuz); want != got {
				t.Errorf("vmlinuz: want %q, got %q", want, got)
			}
			if diff := cmp.Diff(tt.order, kf.order); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			got := map[string]string{}
			for m, b := range kf.modules {
				got[m] = string(b)
			}
			if diff := cmp.Diff(tt.modules, got); diff != "" {
				t.Errorf("modules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecompressModuleXZ(t *testing.T) {
	xz, err := exec.LookPath("xz")
	if err != nil {
		testenv.Skip(t, "xz not installed (apt-get install xz-utils)")
	}
	want := []byte("a kernel module\n")
	cmd := exec.Command(xz, "-c")
	cmd.Stdin = bytes.NewReader(want)
	packed, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decompressModule(context.Background(), "m.ko.xz", packed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := decompressModule(context.Background(), "m.ko.xz", []byte("not xz")); err == nil {
		t.Error("decompressing garbage succeeded")
	}
}

func TestCheckStatic(t *testing.T) {
	tests := []struct {
		path    string
		wantErr string
	}{
		{"/bin/busybox", ""},
		{"/bin/ls", "dynamically linked"},
		{"/etc/hostname", "not an ELF"},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(tt.path)
		if err != nil {
			t.Logf("skipping %s: %v", tt.path, err)
			continue
		}
		err = checkStatic(tt.path, b)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkStatic(%s) = %v, want error containing %q", tt.path, err, tt.wantErr)
		}
	}
}

func TestInitramfsKey(t *testing.T) {
	base := initramfsKey([]byte("busybox"), netModules)
	tests := []struct {
		name string
		key  string
		same bool
	}{
		{"same input", initramfsKey([]byte("busybox"), netModules), true},
		{"other busybox", initramfsKey([]byte("busybox2"), netModules), false},
		{"other modules", initramfsKey([]byte("busybox"), netModules[1:]), false},
	}
	for _, tt := range tests {
		if want, got := tt.same, tt.key == base; want != got {
			t.Errorf("%s: key %s vs %s: same = %v, want %v", tt.name, tt.key, base, got, want)
		}
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	t.Setenv(CacheEnv, "")
	tests := []struct {
		cfg, env, want string
	}{
		{"/cfg", "/env", "/cfg"},
		{"", "/env", "/env"},
		{"", "", "/xdg/nicplug/guest"},
	}
	for _, tt := range tests {
		t.Setenv(CacheEnv, tt.env)
		got, err := cacheDir(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if want := tt.want; want != got {
			t.Errorf("cacheDir(%q) with %s=%q: want %s, got %s", tt.cfg, CacheEnv, tt.env, want, got)
		}
	}
	if want, got := "linux-image-x_1%3a2.0", dirName("linux-image-x", "1:2.0"); want != got {
		t.Errorf("dirName: want %s, got %s", want, got)
	}
}

func TestBuildInitramfs(t *testing.T) {
	b, err := buildInitramfs([]byte("BB"), map[string][]byte{"virtio": []byte("V"), "virtio_net": []byte("N")}, []string{"virtio", "virtio_net"})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Split(strings.TrimSpace(listArchive(t, raw)), "\n")
	sort.Strings(list)
	out := strings.Join(list, "\n") + "\n"
	want := strings.Join([]string{"bin", "bin/busybox", "bin/sh", "dev", "dev/console", "etc", "etc/nicplug-exec.sh", "etc/udhcpc.sh",
		"init", "lib", "lib/modules", "lib/modules/load", "lib/modules/virtio.ko", "lib/modules/virtio_net.ko",
		"proc", "run", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin"}, "\n") + "\n"
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("initramfs listing (-want +got):\n%s", diff)
	}
	if _, err := buildInitramfs(nil, nil, []string{"virtio"}); err == nil {
		t.Error("buildInitramfs with a missing module succeeded")
	}
}

func TestScriptsUsePrefix(t *testing.T) {
	for _, f := range rootfsFiles {
		b, err := rootfsFS.ReadFile(f.src)
		if err != nil {
			t.Fatal(err)
		}
		prefix := EventPrefix
		if f.dst == "etc/nicplug-exec.sh" {
			prefix = execPrefix
		}
		if !strings.Contains(string(b), prefix) {
			t.Errorf("%s does not print %q", f.src, prefix)
		}
	}
}

// listArchive lists a cpio archive with the host's cpio, else busybox's.
func listArchive(t *testing.T, archive []byte) string {
	t.Helper()
	args := []string{"cpio", "-it", "--quiet"}
	if _, err := exec.LookPath("cpio"); err != nil {
		args = []string{"busybox", "cpio", "-t"}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin = bytes.NewReader(archive)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// ListArchive is listArchive for the guest_test package's tests.
var ListArchive = listArchive
