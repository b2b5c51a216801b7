package qmp_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/testenv"
)

// rawConn is the baseline: a bare QMP connection that writes a command line
// and reads one line back, with no ids, no parsing and no goroutines.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(tb testing.TB, path string) *rawConn {
	tb.Helper()
	var c net.Conn
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err = net.Dial("unix", path); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	rc := &rawConn{c: c, r: bufio.NewReader(c)}
	rc.line(tb) // greeting
	rc.roundTrip(tb, []byte(`{"execute":"qmp_capabilities"}`+"\n"))
	return rc
}

func (rc *rawConn) line(tb testing.TB) []byte {
	l, err := rc.r.ReadSlice('\n')
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func (rc *rawConn) roundTrip(tb testing.TB, cmd []byte) []byte {
	if _, err := rc.c.Write(cmd); err != nil {
		tb.Fatal(err)
	}
	return rc.line(tb)
}

// BenchmarkQueryStatus measures a query-status round trip through the
// client and through raw socket loops against the same QEMU (separate QMP
// monitors of one process):
//
//   - client: [qmp.Client.QueryStatus] (id, reply routing, JSON decoding);
//   - raw: write {"execute":"query-status"}, read a line;
//   - raw-id: the same with "id":1, the exact bytes the client sends.
//
// QEMU reads the monitor one byte per main-loop iteration, so every byte of
// a command costs several microseconds: the id's 7 bytes alone make raw-id
// measurably slower than raw. "own-overhead-%" (client vs raw-id) is what
// the client's code adds; "overhead-%" (client vs raw) includes the id.
//
// "interleaved" runs the three in every iteration, rotating their order to
// cancel position effects and drift on a busy machine, and reports both
// ratios.
func BenchmarkQueryStatus(b *testing.B) {
	raw := filepath.Join(b.TempDir(), "raw.sock")
	q := testenv.StartQEMU(b, "-qmp", "unix:"+raw+",server=on,wait=off")
	c := dial(b, q.Socket, nil)
	rc := dialRaw(b, raw)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := []byte(`{"execute":"query-status"}` + "\n")
	cmdID := []byte(`{"execute":"query-status","id":1}` + "\n")
	kinds := []struct {
		name string
		run  func(b *testing.B)
	}{
		{"client", func(b *testing.B) {
			st, err := c.QueryStatus(ctx)
			if err != nil || st.Status != "prelaunch" {
				b.Fatalf("QueryStatus = %+v, %v", st, err)
			}
		}},
		{"raw", func(b *testing.B) {
			if l := rc.roundTrip(b, cmd); !bytes.Contains(l, []byte(`"prelaunch"`)) {
				b.Fatalf("raw reply %q", l)
			}
		}},
		{"raw-id", func(b *testing.B) {
			if l := rc.roundTrip(b, cmdID); !bytes.Contains(l, []byte(`"prelaunch"`)) {
				b.Fatalf("raw reply %q", l)
			}
		}},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				k.run(b)
			}
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		var total [3]time.Duration
		n := 0
		for b.Loop() {
			for j := range kinds {
				k := (n + j) % len(kinds)
				t0 := time.Now()
				kinds[k].run(b)
				total[k] += time.Since(t0)
			}
			n++
		}
		ns := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) }
		b.ReportMetric(ns(total[0]), "client-ns/op")
		b.ReportMetric(ns(total[1]), "raw-ns/op")
		b.ReportMetric(ns(total[2]), "raw-id-ns/op")
		b.ReportMetric(100*(ns(total[0])-ns(total[1]))/ns(total[1]), "overhead-%")
		b.ReportMetric(100*(ns(total[0])-ns(total[2]))/ns(total[2]), "own-overhead-%")
	})
}
