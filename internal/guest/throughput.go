package guest

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
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

// ReceiveTCP has the guest receive blocks×blockSize zero bytes over TCP
// from the host: the guest listens on port (busybox `nc -l -p PORT | wc
// -c`), the host connects to guestIP:port with dial (say, a dialer whose
// socket lives in another network namespace; nil means net.Dialer),
// writes the bytes and closes. It returns the time from the connection's
// establishment until the guest's command reported every byte. Connection
// attempts are retried until the guest listens or ctx ends.
func (g *Guest) ReceiveTCP(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	guestIP string, port, blocks, blockSize int) (time.Duration, error) {
	if net.ParseIP(guestIP) == nil || port <= 0 || port > 65535 || blocks <= 0 || blockSize <= 0 {
		return 0, &OpError{Op: "receive tcp", Err: fmt.Errorf("bad transfer %s:%d %d×%d", guestIP, port, blocks, blockSize)}
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	want := int64(blocks) * int64(blockSize)
	type result struct {
		out string
		st  int
		err error
	}
	res := make(chan result, 1)
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		out, st, err := g.Exec(ectx, fmt.Sprintf("nc -l -p %d | wc -c", port))
		res <- result{out, st, err}
	}()
	addr := net.JoinHostPort(guestIP, strconv.Itoa(port))
	var c net.Conn
	for {
		var err error
		if c, err = dial(ctx, "tcp", addr); err == nil {
			break
		}
		select {
		case r := <-res:
			return 0, &OpError{Op: "receive tcp", Err: fmt.Errorf("guest's nc -l ended before the host connected (%v, exit %d: %s); last dial: %w", r.err, r.st, r.out, err)}
		case <-ctx.Done():
			return 0, &OpError{Op: "receive tcp", Err: fmt.Errorf("connect to %s: %w (last: %v)", addr, ctx.Err(), err)}
		case <-time.After(20 * time.Millisecond):
		}
	}
	t0 := time.Now()
	buf := make([]byte, blockSize)
	var werr error
	for i := 0; i < blocks && werr == nil; i++ {
		_, werr = c.Write(buf)
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok && werr == nil {
		werr = cw.CloseWrite()
	}
	if werr != nil {
		c.Close()
		cancel()
		<-res
		return 0, &OpError{Op: "receive tcp", Err: fmt.Errorf("write to %s: %w", addr, werr)}
	}
	r := <-res
	d := time.Since(t0)
	c.Close()
	if r.err == nil && r.st != 0 {
		r.err = fmt.Errorf("nc -l | wc -c exited %d: %s", r.st, r.out)
	}
	if r.err != nil {
		return 0, &OpError{Op: "receive tcp", Err: r.err}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(r.out), 10, 64)
	if err != nil || n != want {
		return 0, &OpError{Op: "receive tcp", Err: fmt.Errorf("guest received %q bytes, want %d", strings.TrimSpace(r.out), want)}
	}
	return d, nil
}
