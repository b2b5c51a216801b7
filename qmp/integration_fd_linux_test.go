package qmp_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
	"golang.org/x/sys/unix"
)

var tapSeq atomic.Int32

// openTap creates a non-persistent tap device (it vanishes when the last
// fd is closed) and returns its fd and name.
func openTap(t *testing.T) (*os.File, string) {
	t.Helper()
	testenv.RequireRoot(t)
	name := fmt.Sprintf("qmpt%d.%d", os.Getpid()%100000, tapSeq.Add(1))
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		testenv.Skip(t, fmt.Sprintf("cannot open /dev/net/tun: %v", err))
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		t.Fatalf("TUNSETIFF %s: %v", name, err)
	}
	f := os.NewFile(uintptr(fd), "/dev/net/tun:"+name)
	t.Cleanup(func() { f.Close() })
	return f, name
}

// waitLinkGone polls until the named link no longer exists.
func waitLinkGone(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := net.InterfaceByName(name); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("link %s still exists: its fd was not released", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIntegrationTapNetdev passes a tap fd with getfd, makes it a tap
// netdev joined to a hub like nicplug does, and deletes it: QEMU must
// release the fd, so the tap vanishes.
func TestIntegrationTapNetdev(t *testing.T) {
	tap, name := openTap(t)
	_, c := startQEMU(t)
	ctx := ctxTimeout(t)
	if err := c.GetFD(ctx, "tapfd0", tap); err != nil {
		t.Fatalf("GetFD: %v", err)
	}
	tap.Close() // QEMU's copy keeps the tap alive
	if _, err := net.InterfaceByName(name); err != nil {
		t.Fatalf("tap %s gone although QEMU holds its fd: %v", name, err)
	}
	if err := c.NetdevAdd(ctx, map[string]any{"type": "tap", "id": "t0", "fd": "tapfd0"}); err != nil {
		t.Fatalf("NetdevAdd tap: %v", err)
	}
	if err := c.NetdevAdd(ctx, struct {
		Type   string `json:"type"`
		ID     string `json:"id"`
		HubID  int    `json:"hubid"`
		Netdev string `json:"netdev"`
	}{"hubport", "t0-hp", 0, "t0"}); err != nil {
		t.Fatalf("NetdevAdd hubport: %v", err)
	}
	info, err := c.HMP(ctx, "info network")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hub 0", `\ t0-hp: t0: index=`, "type=tap,fd="} {
		if !strings.Contains(info, want) {
			t.Errorf("info network lacks %q:\n%s", want, info)
		}
	}
	// The fd name was consumed.
	if err := c.CloseFD(ctx, "tapfd0"); !qmp.IsClass(err, "GenericError") {
		t.Errorf("CloseFD of a consumed name: %v, want GenericError", err)
	}
	for _, id := range []string{"t0-hp", "t0"} {
		if err := c.NetdevDel(ctx, id); err != nil {
			t.Fatalf("NetdevDel %s: %v", id, err)
		}
	}
	waitLinkGone(t, name)
	info, err = c.HMP(ctx, "info network")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(info, "t0") {
		t.Errorf("info network still shows t0 after netdev_del:\n%s", info)
	}
}

// TestIntegrationCloseFDRollback: an unconsumed fd name is released by
// closefd, and reusing a name releases the fd it held.
func TestIntegrationCloseFDRollback(t *testing.T) {
	_, c := startQEMU(t)
	ctx := ctxTimeout(t)
	pipe := func() (*os.File, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		return r, w
	}
	// wantEOF reads r until EOF: every write end, QEMU's too, is closed.
	wantEOF := func(what string, r *os.File) {
		t.Helper()
		r.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadAll(r); err != nil {
			t.Errorf("%s: QEMU still holds the fd: %v", what, err)
		}
	}
	r1, w1 := pipe()
	if err := c.GetFD(ctx, "rb0", w1); err != nil {
		t.Fatal(err)
	}
	w1.Close()
	if err := c.CloseFD(ctx, "rb0"); err != nil {
		t.Fatalf("CloseFD: %v", err)
	}
	wantEOF("after closefd", r1)
	err := c.CloseFD(ctx, "rb0")
	if want := "qmp: closefd: GenericError: File descriptor named 'rb0' not found"; err == nil || err.Error() != want {
		t.Errorf("second CloseFD: %v, want %q", err, want)
	}
	if err := c.NetdevAdd(ctx, map[string]any{"type": "tap", "id": "t1", "fd": "rb0"}); !qmp.IsClass(err, "GenericError") {
		t.Errorf("netdev_add with a released fd name: %v, want GenericError", err)
	}

	r2, w2 := pipe()
	r3, w3 := pipe()
	for _, w := range []*os.File{w2, w3} {
		if err := c.GetFD(ctx, "same", w); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	wantEOF("replaced name", r2)
	if err := c.CloseFD(ctx, "same"); err != nil {
		t.Fatal(err)
	}
	wantEOF("closefd of a replaced name", r3)
}

// hungUp reports whether every write end of the pipe read by r is closed.
// It may run on any goroutine.
func hungUp(t *testing.T, r *os.File) bool {
	t.Helper()
	sc, err := r.SyscallConn() // not r.Fd(): it would disable deadlines
	if err != nil {
		t.Error(err)
		return false
	}
	var revents int16
	if err := sc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, perr := unix.Poll(fds, 0); perr != nil {
			err = perr
		}
		revents = fds[0].Revents
	}); err != nil {
		t.Error(err)
	}
	return revents&unix.POLLHUP != 0
}

// TestIntegrationConcurrentGetFD passes descriptors from several goroutines
// at once: each getfd must find its own descriptor (QEMU takes the one that
// came with the command), and closefd must release it.
func TestIntegrationConcurrentGetFD(t *testing.T) {
	const goroutines, perG = 4, 25
	_, c := startQEMU(t)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				r, w, err := os.Pipe()
				if err != nil {
					t.Error(err)
					return
				}
				name := fmt.Sprintf("g%d", g)
				err = c.GetFD(ctxTimeout(t), name, w)
				w.Close()
				if err != nil {
					t.Errorf("goroutine %d, pass %d: GetFD: %v", g, i, err)
					r.Close()
					return
				}
				if hungUp(t, r) {
					t.Errorf("goroutine %d, pass %d: QEMU does not hold the pipe after getfd %s", g, i, name)
				}
				if err := c.CloseFD(ctxTimeout(t), name); err != nil {
					t.Errorf("goroutine %d, pass %d: CloseFD: %v", g, i, err)
				}
				r.SetReadDeadline(time.Now().Add(30 * time.Second))
				if _, err := io.ReadAll(r); err != nil {
					t.Errorf("goroutine %d, pass %d: pipe still held after closefd %s: %v", g, i, name, err)
				}
				r.Close()
			}
		})
	}
	wg.Wait()
}
