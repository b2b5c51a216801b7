package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// RequireQEMUAs fails the test, with a hint, unless user uid (group gid,
// no supplementary groups) can run the QEMU tests use: its binary,
// firmware and modules must be within that user's reach (a QEMU cached in
// root's home is not; scripts/install-qemu10.sh caches under /var/cache as
// root for that reason). It returns the binary.
func RequireQEMUAs(t testing.TB, uid, gid int) string {
	t.Helper()
	bin := RequireQEMU(t)
	out, err := exec.Command("setpriv", "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(gid), "--clear-groups",
		bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: QEMU %s cannot run as uid %d: %v: %s (put it, its firmware and modules where that user can reach them)",
			bin, uid, err, strings.TrimSpace(string(out)))
	}
	return bin
}

// CheckRunsAs checks that process pid runs as uid and gid (real, effective,
// saved and filesystem ids) with no supplementary groups and, with
// noCaps, no effective capabilities.
func CheckRunsAs(t testing.TB, pid, uid, gid int, noCaps bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ids := func(id int) string { s := strconv.Itoa(id); return strings.Join([]string{s, s, s, s}, " ") }
	want := map[string]string{"Uid:": ids(uid), "Gid:": ids(gid), "Groups:": ""}
	if noCaps {
		want["CapEff:"] = "0000000000000000"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if w, ok := want[f[0]]; ok {
			if got := strings.Join(f[1:], " "); got != w {
				t.Errorf("process %d: %s %q, want %q", pid, f[0], got, w)
			}
			delete(want, f[0])
		}
	}
	if len(want) != 0 {
		t.Errorf("process %d: /proc status lacks %v", pid, fmt.Sprint(want))
	}
}
