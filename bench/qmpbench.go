package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/nicplug/nicplug/qmp"
)

// rawQMP is a hand-written QMP loop on a unix socket: one command written,
// one line read back, nothing else (no ids, no events, no concurrency).
type rawQMP struct {
	conn net.Conn
	rd   *bufio.Reader
}

func dialRaw(ctx context.Context, path string) (*rawQMP, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("bench: raw qmp: %w", err)
	}
	r := &rawQMP{conn: c, rd: bufio.NewReaderSize(c, 64<<10)}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := r.rd.ReadBytes('\n'); err != nil { // greeting
		c.Close()
		return nil, fmt.Errorf("bench: raw qmp greeting: %w", err)
	}
	if _, err := r.do([]byte(`{"execute":"qmp_capabilities"}` + "\n")); err != nil {
		c.Close()
		return nil, err
	}
	return r, nil
}

// do writes one command line and returns the reply line, skipping events.
func (r *rawQMP) do(line []byte) ([]byte, error) {
	if _, err := r.conn.Write(line); err != nil {
		return nil, fmt.Errorf("bench: raw qmp write: %w", err)
	}
	for {
		b, err := r.rd.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("bench: raw qmp read: %w", err)
		}
		if bytes.HasPrefix(b, []byte(`{"event"`)) {
			continue
		}
		if bytes.HasPrefix(b, []byte(`{"error"`)) {
			return nil, fmt.Errorf("bench: raw qmp: %s", bytes.TrimSpace(b))
		}
		return b, nil
	}
}

// exec sends a command with arguments.
func (r *rawQMP) exec(cmd string, args any) error {
	m := map[string]any{"execute": cmd}
	if args != nil {
		m["arguments"] = args
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = r.do(append(b, '\n'))
	return err
}

func (r *rawQMP) close() error { return r.conn.Close() }

// runQMP compares a qmp.Client query-status round trip with the raw loop
// on the same QEMU (two monitors), in interleaved blocks.
func runQMP(ctx context.Context, r *Report, iters int) error {
	q, err := startQEMU(ctx, 2)
	if err != nil {
		return err
	}
	defer q.kill()
	c, err := qmp.Dial(ctx, q.sockets[0], nil)
	if err != nil {
		return err
	}
	defer c.Close()
	raw, err := dialRaw(ctx, q.sockets[1])
	if err != nil {
		return err
	}
	defer raw.close()
	const block = 100
	var tc, tr time.Duration
	line := []byte(`{"execute":"query-status"}` + "\n")
	for done := 0; done < iters; done += block {
		n := min(block, iters-done)
		start := time.Now()
		for range n {
			if _, err := c.QueryStatus(ctx); err != nil {
				return err
			}
		}
		tc += time.Since(start)
		start = time.Now()
		for range n {
			if _, err := raw.do(line); err != nil {
				return err
			}
		}
		tr += time.Since(start)
	}
	pc, pr := tc/time.Duration(iters), tr/time.Duration(iters)
	r.add(Row{Part: "2 qmp", Name: "query-status round trip", N: iters,
		Value: fmtDur(pc), Baseline: fmtDur(pr), Ratio: ratio(pc, pr),
		Note: "qmp.Client vs raw write+ReadBytes loop, same QEMU, interleaved blocks"})
	return nil
}
