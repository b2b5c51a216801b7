package guest

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// SendTCP has the guest send blocks×blockSize zero bytes over TCP (busybox
// `dd | nc`) to the host listener l, which the guest reaches at hostIP
// (l's port is used). It returns the time from the command's start until
// the host has read every byte. l is left open; one transfer is accepted.
func (g *Guest) SendTCP(ctx context.Context, l net.Listener, hostIP string, blocks, blockSize int) (time.Duration, error) {
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, &OpError{Op: "send tcp", Err: fmt.Errorf("listener %s is not TCP", l.Addr())}
	}
	if net.ParseIP(hostIP) == nil || blocks <= 0 || blockSize <= 0 {
		return 0, &OpError{Op: "send tcp", Err: fmt.Errorf("bad transfer %s %d×%d", hostIP, blocks, blockSize)}
	}
	want := int64(blocks) * int64(blockSize)
	got := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		got <- n
	}()
	t0 := time.Now()
	out, st, err := g.Exec(ctx, fmt.Sprintf("dd if=/dev/zero bs=%d count=%d 2>/dev/null | nc %s %d", blockSize, blocks, hostIP, addr.Port))
	if err == nil && st != 0 {
		err = fmt.Errorf("dd | nc exited %d: %s", st, out)
	}
	if err != nil {
		// Unblock the accept if the guest never connected; a connection
		// that did start ends when the guest's nc exits.
		if d, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
			_ = d.SetDeadline(time.Now())
			defer d.SetDeadline(time.Time{})
		}
		<-got
		return 0, &OpError{Op: "send tcp", Err: err}
	}
	n := <-got
	d := time.Since(t0)
	if n != want {
		return 0, &OpError{Op: "send tcp", Err: fmt.Errorf("host received %d bytes, want %d", n, want)}
	}
	return d, nil
}
