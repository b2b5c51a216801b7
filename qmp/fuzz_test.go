package qmp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/qmp"
)

// FuzzReplies feeds a connected client arbitrary bytes from the monitor
// before the real reply to its command: whatever QEMU (or something
// posing as it) sends, the client neither panics nor hangs nor takes a
// stray line for the reply of another command, and the reply it waits
// for still arrives (unless the junk answered its id: then with an error,
// a *qmp.CommandError or one matching qmp.ErrMalformedReply).
func FuzzReplies(f *testing.F) {
	for _, s := range []string{
		``,
		`{"return": {}, "id": 7}`,
		`{"return": 1}`,
		`{"error": {"class": "GenericError", "desc": "no"}, "id": "x"}`,
		`{"error": null, "id": 1}`,
		`{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}`,
		`{"event": "", "data": [1,2,3]}`,
		`garbage` + "\n" + `{"QMP": {}}`,
		`{"return": {}, "id": 18446744073709551616}`,
		`{"return": {}, "id": -1}`,
		"{\"return\": \"\x00\xff\"}",
		`[1, 2, 3]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, junk []byte) {
		cc, sc := socketpair(t)
		defer sc.Close()
		done := make(chan error, 1)
		go func() { done <- serveFuzz(sc, junk) }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := qmp.New(ctx, cc, nil)
		if err != nil {
			t.Fatalf("new: %v", err)
		}
		defer c.Close()
		raw, err := c.Execute(ctx, "query-status", nil)
		var ce *qmp.CommandError
		switch {
		case err == nil:
			if !json.Valid(raw) {
				t.Errorf("result is not JSON: %q", raw)
			}
		case errors.As(err, &ce):
			// junk answered our id with an error: a reply, fine.
		case errors.Is(err, qmp.ErrMalformedReply):
			// junk answered our id with a malformed reply: said so, fine.
			if !errors.As(err, new(*qmp.OpError)) || strings.Contains(err.Error(), "\n") {
				t.Errorf("malformed reply error %q", err)
			}
		default:
			t.Fatalf("execute: %v", err)
		}
		c.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// serveFuzz greets, answers qmp_capabilities, and answers the next command
// with junk, a newline, and the real reply.
func serveFuzz(c *net.UnixConn, junk []byte) error {
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte(greeting + "\n")); err != nil {
		return err
	}
	for i := range 2 {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("server: reading command %d: %w", i, err)
		}
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		if err := json.Unmarshal(line, &req); err != nil {
			return fmt.Errorf("server: command %q: %w", line, err)
		}
		out := fmt.Appendf(nil, `{"return": {}, "id": %s}`+"\n", req.ID)
		if i == 1 {
			out = append(append(append([]byte(nil), junk...), '\n'), out...)
		}
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
	return nil
}
