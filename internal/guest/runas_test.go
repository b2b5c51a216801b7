package guest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationRunAsFilesCPUs boots a guest whose QEMU runs as nobody
// (65534), with two vCPUs and an inherited file: QEMU has that user's
// credentials and no supplementary group, holds the file as fd 3, the guest
// boots and gets a lease from user networking and sees two CPUs, and Close
// leaves nothing behind.
func TestIntegrationRunAsFilesCPUs(t *testing.T) {
	testenv.RequireRoot(t)
	const nobody = 65534
	bin := testenv.RequireQEMU(t)
	if out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "--version").CombinedOutput(); err != nil {
		t.Fatalf("QEMU %s cannot run as uid %d: %v: %s (put it, its firmware and modules where that user can reach them)",
			bin, nobody, err, strings.TrimSpace(string(out)))
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	g := guest.Start(t, &guest.Config{
		RunAs: &guest.RunAs{UID: nobody, GID: nobody}, CPUs: 2, ExtraFiles: []*os.File{r},
		ExtraArgs: []string{"-netdev", "user,id=u0", "-device", userNIC},
	})
	status, err := os.ReadFile("/proc/" + strconv.Itoa(g.Pid()) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Uid:": "65534 65534 65534 65534", "Gid:": "65534 65534 65534 65534", "Groups:": ""}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if w, ok := want[f[0]]; ok {
			if got := strings.Join(f[1:], " "); got != w {
				t.Errorf("QEMU's %s %q, want %q", f[0], got, w)
			}
			delete(want, f[0])
		}
	}
	if len(want) != 0 {
		t.Errorf("QEMU's status lacks %v:\n%s", want, status)
	}
	fi, err := os.Stat("/proc/" + strconv.Itoa(g.Pid()) + "/fd/3")
	if ri, _ := r.Stat(); err != nil || !os.SameFile(fi, ri) {
		t.Errorf("QEMU's fd 3 is not the pipe passed: %v", err)
	}
	waitEv(t, g, 0, guest.KindReady)
	lease := waitEv(t, g, 0, guest.KindLease)
	if got := lease.Arg(0); got != "10.0.2.15/24" {
		t.Errorf("lease %s, want 10.0.2.15/24", got)
	}
	if got := strings.TrimSpace(execOK(t, g, "grep -c ^processor /proc/cpuinfo")); got != "2" {
		t.Errorf("guest sees %s CPUs, want 2", got)
	}
	sock := g.QMPSocket()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("QMP socket %s left behind: %v", sock, err)
	}
	if _, err := os.Stat(filepath.Dir(sock)); !os.IsNotExist(err) {
		t.Errorf("guest directory %s left behind: %v", filepath.Dir(sock), err)
	}
}
