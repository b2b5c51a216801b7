package guest_test

import (
	"bufio"
	"encoding/json"
	"net"
	"testing"
	"time"
)

// testQMP is a minimal QMP client for these tests (the qmp package is not
// used to keep this package's tests independent of it).
type testQMP struct {
	c net.Conn
	r *bufio.Reader
}

func dialQMP(t testing.TB, path string) *testQMP {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial QMP: %v", err)
	}
	q := &testQMP{c: c, r: bufio.NewReaderSize(c, 1<<20)}
	t.Cleanup(func() { c.Close() })
	if _, err := q.r.ReadBytes('\n'); err != nil { // greeting
		t.Fatalf("QMP greeting: %v", err)
	}
	q.do(t, "qmp_capabilities", nil)
	return q
}

// do runs a command and fails the test on a QMP error.
func (q *testQMP) do(t testing.TB, cmd string, args any) {
	t.Helper()
	if err := q.try(cmd, args); err != nil {
		t.Fatalf("QMP %s %v: %v", cmd, args, err)
	}
}

type qmpError struct{ Class, Desc string }

func (e *qmpError) Error() string { return e.Class + ": " + e.Desc }

func (q *testQMP) try(cmd string, args any) error {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	q.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := q.c.Write(append(b, '\n')); err != nil {
		return err
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return err
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *qmpError       `json:"error"`
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			return err
		}
		if resp.Error != nil {
			return resp.Error
		}
		if resp.Return != nil {
			return nil
		}
		// an event: skip
	}
}

func (q *testQMP) setLink(t testing.TB, name string, up bool) {
	t.Helper()
	q.do(t, "set_link", map[string]any{"name": name, "up": up})
}
