package guest_test

import (
	"os"
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
	testenv.RequireQEMUAs(t, nobody, nobody)
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
	testenv.CheckRunsAs(t, g.Pid(), nobody, nobody, false)
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
