package netif

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestIntegrationFixedTap creates single- and multi-queue fixed taps and
// checks what the kernel reports, that they open with as many vnet_hdr
// queues as they were made with (and a queue of the other kind is EINVAL,
// as QEMU would see), that frames written to any queue arrive, and that a
// taken name is os.ErrExist with nothing changed.
func TestIntegrationFixedTap(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	h := n.handle(t)
	guest := mustMAC("52:54:00:12:34:56")
	owner := Owner{VM: "vm", NIC: "net0"}
	for _, queues := range []int{1, 4} {
		t.Run(fmt.Sprint(queues, "queues"), func(t *testing.T) {
			name := fmt.Sprintf("nph1tap%d", queues)
			l, err := CreateFixedTap(ctx, &FixedTapConfig{Name: name, MAC: guest, Queues: queues, UID: -1, GID: -1, Owner: owner, Netns: n.Path})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Delete(ctx)
			nl, err := h.LinkByName(name)
			if err != nil {
				t.Fatal(err)
			}
			tt, ok := nl.(*netlink.Tuntap)
			if !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
				t.Fatalf("%s is %T, want a tap", name, nl)
			}
			mq := queues > 1
			a := nl.Attrs()
			type view struct {
				Kind, MAC, Alias   string
				Up, MQ, VnetHdr    bool
				Master, Persistent bool
			}
			want := view{KindTap, "fe:54:00:12:34:56", owner.String(), true, mq, true, false, true}
			got := view{l.Kind, a.HardwareAddr.String(), a.Alias, a.Flags&1 != 0,
				tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0, tt.Flags&netlink.TUNTAP_VNET_HDR != 0, a.MasterIndex != 0, !tt.NonPersist}
			if want != got {
				t.Errorf("fixed tap:\nwant %+v\ngot  %+v", want, got)
			}

			files, err := OpenTap(ctx, n.Path, name, &OpenOptions{Queues: queues, VnetHdr: true})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				for _, f := range files {
					f.Close()
				}
			}()
			if len(files) != queues {
				t.Fatalf("%d files, want %d", len(files), queues)
			}
			checkQueues(t, files, name, true, mq)
			checkCloexec(t, files)
			// What QEMU's tap_open does by ifname: IFF_MULTI_QUEUE only for
			// queues > 1. The other kind of queue is refused.
			fds, err := openTun(nsOf(t, n), 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			err = tunSetIff(fds[0], name, tunFlags(true, !mq))
			unix.Close(fds[0])
			if !errors.Is(err, unix.EINVAL) {
				t.Errorf("TUNSETIFF with multi_queue=%v on a tap with multi_queue=%v: %v, want EINVAL", !mq, mq, err)
			}

			ps := n.openPacket(t, name)
			for i, f := range files {
				payload := fmt.Sprintf("queue-%d", i)
				writeTo(t, f, true, frame(mustMAC("02:00:00:00:00:01"), guest, payload))
				if !ps.waitFor(t, payload, 5*time.Second) {
					t.Errorf("frame written to queue %d with a virtio_net_hdr not seen on %s", i, name)
				}
			}
			if queues == 1 {
				if _, err := OpenTap(ctx, n.Path, name, &OpenOptions{Queues: 2, VnetHdr: true}); !errors.Is(err, os.ErrInvalid) {
					t.Errorf("opening 2 queues of a single-queue tap: %v, want os.ErrInvalid", err)
				}
			}

			before, fdsBefore := n.state(t), openFDs(t)
			_, err = CreateFixedTap(ctx, &FixedTapConfig{Name: name, Queues: queues, UID: -1, GID: -1, Owner: owner, Netns: n.Path})
			if !errors.Is(err, os.ErrExist) || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("CreateFixedTap with a taken name: %v, want os.ErrExist", err)
			}
			n.checkState(t, before, "a refused CreateFixedTap")
			checkNoNewFDs(t, fdsBefore, "a refused CreateFixedTap")
		})
	}
}

// nsOf opens the namespace as an nsRef, closed in t.Cleanup.
func nsOf(t testing.TB, n *testNetns) *nsRef {
	t.Helper()
	ns, err := openNetns(n.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	return ns
}

// tunsetiffHelperEnv makes the test binary, re-executed by
// TestIntegrationFixedTapOwner, run TUNSETIFF on descriptor 3 and exit.
const tunsetiffHelperEnv = "NPH1_TUNSETIFF_HELPER"

// TestTunsetiffHelper is not a test: run by TestIntegrationFixedTapOwner
// as an unprivileged child process, it attaches the /dev/net/tun
// descriptor it inherited as fd 3 to the tap named in the environment and
// prints "ok" or the errno.
func TestTunsetiffHelper(t *testing.T) {
	name := os.Getenv(tunsetiffHelperEnv)
	if name == "" {
		return // not a helper process: nothing to do (and no skip under CI)
	}
	if f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err == nil {
		f.Close()
		fmt.Printf("open /dev/net/tun uid=%d: ok\n", os.Geteuid())
	} else {
		fmt.Printf("open /dev/net/tun uid=%d: %v\n", os.Geteuid(), errors.Unwrap(err))
	}
	if err := tunSetIff(3, name, tunFlags(true, false)); err != nil {
		fmt.Printf("TUNSETIFF uid=%d: %v\n", os.Geteuid(), err)
		os.Exit(3)
	}
	fmt.Printf("TUNSETIFF uid=%d: ok\n", os.Geteuid())
	os.Exit(0)
}

// TestIntegrationFixedTapOwner proves TUNSETOWNER with a process running as
// uid 65534 (SysProcAttr.Credential, no capabilities). /dev/net/tun is mode
// 0600 root here, so the child cannot open it (checked), and the parent,
// like a privileged launcher handing a device to QEMU, opens it inside the
// tap's namespace (where TUNSETIFF looks names up) and passes the
// descriptor as fd 3; only TUNSETIFF runs unprivileged. The child attaches
// to a fixed tap made with UID 65534, and is refused (EPERM) by one made
// with UID 0. A tap made with UID -1 has no owner, and the kernel
// (tun_not_capable) then lets anybody holding a /dev/net/tun descriptor
// attach: the child does. Root-only therefore rests on /dev/net/tun's mode
// unless the owner is set. The child is a copy of this test binary in a
// world-readable directory (go test's own directory is 0700).
func TestIntegrationFixedTapOwner(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	owner := Owner{VM: "vm", NIC: "net0"}
	taps := []struct {
		name string
		uid  int
	}{{"nph1own", 65534}, {"nph1root", 0}, {"nph1none", -1}}
	for _, tap := range taps {
		name, uid := tap.name, tap.uid
		l, err := CreateFixedTap(ctx, &FixedTapConfig{Name: name, Queues: 1, UID: uid, GID: -1, Owner: owner, Netns: n.Path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Delete(ctx) })
		if tt, err := n.handle(t).LinkByName(name); err != nil {
			t.Fatal(err)
		} else if got := tt.(*netlink.Tuntap).Owner; uid >= 0 && got != uint32(uid) {
			t.Errorf("%s: owner %d, want %d", name, got, uid)
		}
	}

	attach := attacherAsNobody(t, n)
	out, err := attach("nph1own")
	if err != nil || !strings.Contains(out, "TUNSETIFF uid=65534: ok") {
		t.Errorf("uid 65534 attaching to a tap owned by 65534: %v: %s", err, out)
	}
	if !strings.Contains(out, "open /dev/net/tun uid=65534: permission denied") {
		t.Errorf("uid 65534 opening /dev/net/tun itself: %s, want permission denied", out)
	}
	if out, err := attach("nph1root"); err == nil || !strings.Contains(out, "TUNSETIFF uid=65534: operation not permitted") {
		t.Errorf("uid 65534 attaching to a tap owned by root: %v: %s, want EPERM", err, out)
	}
	if out, err := attach("nph1none"); err != nil || !strings.Contains(out, "TUNSETIFF uid=65534: ok") {
		t.Errorf("uid 65534 attaching to a tap without owner through a passed descriptor: %v: %s, want ok (tun_not_capable)", err, out)
	}
}

// attacherAsNobody returns a function that attaches, as uid and gid 65534
// with no capabilities, to the single-queue tap name in n (the child
// TestTunsetiffHelper, given a /dev/net/tun descriptor opened in n) and
// returns what the child printed.
func attacherAsNobody(t *testing.T, n *testNetns) func(name string) (string, error) {
	t.Helper()
	// Not t.TempDir: its parent directory is 0700.
	dir, err := os.MkdirTemp("", "nph1-owner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "netif.test")
	copyFile(t, os.Args[0], bin, 0o755)
	return func(name string) (string, error) {
		fds, err := openTun(nsOf(t, n), 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fds[0]), "tun")
		defer f.Close()
		cmd := exec.Command(bin, "-test.run=^TestTunsetiffHelper$")
		cmd.Env = append(os.Environ(), tunsetiffHelperEnv+"="+name)
		cmd.ExtraFiles = []*os.File{f}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
