package qmp_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nicplug/nicplug/qmp"
)

// TestExecutePipelinedFraming: the commands leave in one write, before any
// reply; replies (here answered in reverse, with an error in the middle)
// go to their own command.
func TestExecutePipelinedFraming(t *testing.T) {
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		// All three lines must be readable without the fake answering.
		var reqs []request
		for _, want := range []string{"a", "b", "c"} {
			reqs = append(reqs, fc.mustRecv(want))
		}
		fc.reply(reqs[2], `"c"`)
		fc.fail(reqs[1], "DeviceNotFound", "no b")
		fc.reply(reqs[0], `"a"`)
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	got := c.ExecutePipelined(ctxTimeout(t), qmp.Command{Name: "a"}, qmp.Command{Name: "b", Args: map[string]any{"x": 1}}, qmp.Command{Name: "c"})
	if len(got) != 3 {
		t.Fatalf("%d replies, want 3", len(got))
	}
	if string(got[0].Return) != `"a"` || got[0].Err != nil || string(got[2].Return) != `"c"` || got[2].Err != nil {
		t.Errorf("replies a, c = %+v, %+v", got[0], got[2])
	}
	var ce *qmp.CommandError
	if !errors.As(got[1].Err, &ce) || ce.Class != "DeviceNotFound" || got[1].Return != nil {
		t.Errorf("reply b = %+v, want a DeviceNotFound CommandError", got[1])
	}
}

// TestExecutePipelinedContext: a reply that does not come in time is an
// error matching the context's; the ones that came are returned, and the
// late reply is discarded without confusing the next command.
func TestExecutePipelinedContext(t *testing.T) {
	release := make(chan struct{})
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		first, second := fc.mustRecv("fast"), fc.mustRecv("slow")
		fc.reply(first, `1`)
		<-release
		fc.reply(second, `"late"`)
		fc.reply(fc.mustRecv("next"), `"next"`)
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	got := c.ExecutePipelined(ctx, qmp.Command{Name: "fast"}, qmp.Command{Name: "slow"})
	close(release)
	if string(got[0].Return) != "1" || got[0].Err != nil {
		t.Errorf("fast = %+v", got[0])
	}
	if !errors.Is(got[1].Err, context.DeadlineExceeded) {
		t.Errorf("slow = %+v, want a deadline error", got[1])
	}
	if ret, err := c.Execute(ctxTimeout(t), "next", nil); err != nil || string(ret) != `"next"` {
		t.Errorf("next command after the pipeline = %s, %v", ret, err)
	}
}

// TestExecutePipelinedNothingSent: a command that cannot be encoded, a
// cancelled context or a closed client send nothing and fail every command.
func TestExecutePipelinedNothingSent(t *testing.T) {
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		fc.reply(fc.mustRecv("ok"), `"ok"`)
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	got := c.ExecutePipelined(ctxTimeout(t), qmp.Command{Name: "first"}, qmp.Command{Name: "bad", Args: []int{1}})
	for i, r := range got {
		if r.Err == nil {
			t.Errorf("command %d of an unencodable pipeline: no error", i)
		}
	}
	cctx, ccancel := context.WithCancel(t.Context())
	ccancel()
	for i, r := range c.ExecutePipelined(cctx, qmp.Command{Name: "x"}, qmp.Command{Name: "y"}) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("command %d with a cancelled context: %v", i, r.Err)
		}
	}
	// Nothing of the above reached the fake: its first command is "ok".
	if ret, err := c.Execute(ctxTimeout(t), "ok", nil); err != nil || !bytes.Equal(ret, []byte(`"ok"`)) {
		t.Errorf("ok = %s, %v", ret, err)
	}
	c.Close()
	for i, r := range c.ExecutePipelined(ctxTimeout(t), qmp.Command{Name: "x"}) {
		if !errors.Is(r.Err, qmp.ErrClosed) {
			t.Errorf("command %d on a closed client: %v", i, r.Err)
		}
	}
}
