package netif

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sysfsOwner reads the tap's owner and group as the kernel's sysfs shows
// them in n (-1: none).
func (n *testNetns) sysfsOwner(t *testing.T, name string) string {
	t.Helper()
	var ids []string
	for _, attr := range []string{"owner", "group"} {
		out, err := exec.Command("ip", "netns", "exec", n.Name, "cat", "/sys/class/net/"+name+"/"+attr).CombinedOutput()
		if err != nil {
			t.Fatalf("read %s's %s: %v: %s", name, attr, err, out)
		}
		ids = append(ids, strings.TrimSpace(string(out)))
	}
	return strings.Join(ids, ":")
}

// TestIntegrationUpdateFixedTap: an existing fixed tap made root's is
// given to uid 65534 (who can then attach to it, without capabilities),
// and to another user; a tap as asked is not touched, even while a
// process holds its only queue; what an existing tap cannot change (its
// queue mode, an owner or group to take away) is refused with a one-line
// error and changes nothing, as does a change of a tap held open.
func TestIntegrationUpdateFixedTap(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	owner := Owner{VM: "vm", NIC: "net0"}
	cfg := func(queues, uid, gid int) *FixedTapConfig {
		return &FixedTapConfig{Name: "nph1up", Queues: queues, UID: uid, GID: gid, Owner: owner, Netns: n.Path}
	}
	l, err := CreateFixedTap(ctx, cfg(1, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Delete(ctx) })
	attach := attacherAsNobody(t, n)
	if out, err := attach("nph1up"); err == nil || !strings.Contains(out, "operation not permitted") {
		t.Fatalf("uid 65534 attaching to root's tap: %v: %s, want EPERM", err, out)
	}
	if got := n.sysfsOwner(t, "nph1up"); got != "0:-1" {
		t.Fatalf("created: owner:group %s, want 0:-1", got)
	}
	if err := UpdateFixedTap(ctx, cfg(1, 0, -1)); err != nil {
		t.Errorf("update to what it is: %v", err)
	}
	if err := UpdateFixedTap(ctx, cfg(1, 65534, 65534)); err != nil {
		t.Fatal(err)
	}
	if got := n.sysfsOwner(t, "nph1up"); got != "65534:65534" {
		t.Errorf("given to nobody: owner:group %s, want 65534:65534", got)
	}
	if out, err := attach("nph1up"); err != nil || !strings.Contains(out, "TUNSETIFF uid=65534: ok") {
		t.Errorf("uid 65534 attaching to the tap given to it: %v: %s", err, out)
	}
	if err := UpdateFixedTap(ctx, cfg(1, 1000, 1000)); err != nil {
		t.Fatal(err)
	}
	if got := n.sysfsOwner(t, "nph1up"); got != "1000:1000" {
		t.Errorf("given to 1000: owner:group %s, want 1000:1000", got)
	}

	// Its only queue held, as by QEMU: as asked is fine, a change is not.
	files, err := l.Open(ctx, &OpenOptions{VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer files[0].Close()
	if err := UpdateFixedTap(ctx, cfg(1, 1000, 1000)); err != nil {
		t.Errorf("update to what it is, held open: %v", err)
	}
	before := n.state(t)
	for _, tc := range []struct {
		name   string
		cfg    *FixedTapConfig
		kind   error
		substr string
	}{
		{"held open", cfg(1, 65534, 65534), unix.EBUSY, "is held by another process (QEMU?), so its owner cannot change now"},
		{"queue mode", cfg(2, 1000, 1000), os.ErrInvalid, `tap "nph1up" in network namespace /run/netns/nph1-`},
		{"owner removed", cfg(1, -1, 1000), os.ErrInvalid, "has owner uid 1000, which cannot be removed"},
		{"group removed", cfg(1, 1000, -1), os.ErrInvalid, "has group gid 1000, which cannot be removed"},
		{"another NIC's", &FixedTapConfig{Name: "nph1up", UID: 0, GID: -1, Owner: Owner{VM: "vm", NIC: "net1"}, Netns: n.Path}, ErrNotOwned, "is not NIC net1 of VM vm's"},
		{"missing", &FixedTapConfig{Name: "nph1gone", UID: 0, GID: -1, Owner: owner, Netns: n.Path}, os.ErrNotExist, `tap "nph1gone" not found`},
	} {
		err := UpdateFixedTap(ctx, tc.cfg)
		if err == nil || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.substr) || !strings.HasPrefix(err.Error(), "netif: update fixed tap ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line error (%v) containing %q", tc.name, err, tc.kind, tc.substr)
		}
	}
	n.checkState(t, before, "refused updates")
	if got := n.sysfsOwner(t, "nph1up"); got != "1000:1000" {
		t.Errorf("after refused updates: owner:group %s, want 1000:1000", got)
	}
}

// TestIntegrationUpdateFixedTapMultiQueue: a multi-queue tap whose queues
// are held (as by QEMU) is given another owner all the same: the update
// attaches a queue of its own for the ioctls and closes it again.
func TestIntegrationUpdateFixedTapMultiQueue(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	c := &FixedTapConfig{Name: "nph1mq", Queues: 2, UID: 0, GID: -1, Owner: Owner{VM: "vm", NIC: "net0"}, Netns: n.Path}
	l, err := CreateFixedTap(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Delete(ctx) })
	files, err := l.Open(ctx, &OpenOptions{Queues: 2, VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	fds := openFDs(t)
	c.UID, c.GID = 65534, 65534
	if err := UpdateFixedTap(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := n.sysfsOwner(t, "nph1mq"); got != "65534:65534" {
		t.Errorf("owner:group %s, want 65534:65534", got)
	}
	checkNoNewFDs(t, fds, "update of a multi-queue tap")
}
