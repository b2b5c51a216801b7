package qmp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nicplug/nicplug/qmp"
)

// TestStartQueues: started commands leave before any reply comes; replies
// (here answered in reverse, with an error in the middle) reach their own
// call.
func TestStartQueues(t *testing.T) {
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
	ctx := ctxTimeout(t)
	var calls []*qmp.Call
	for _, name := range []string{"a", "b", "c"} {
		call, err := c.Start(ctx, name, map[string]any{"x": 1})
		if err != nil {
			t.Fatalf("Start %s: %v", name, err)
		}
		calls = append(calls, call)
	}
	if ret, err := calls[0].Wait(ctx); err != nil || string(ret) != `"a"` {
		t.Errorf("a = %s, %v", ret, err)
	}
	var ce *qmp.CommandError
	if ret, err := calls[1].Wait(ctx); !errors.As(err, &ce) || ce.Class != "DeviceNotFound" || ret != nil {
		t.Errorf("b = %s, %v; want a DeviceNotFound CommandError", ret, err)
	}
	if ret, err := calls[2].Wait(ctx); err != nil || string(ret) != `"c"` {
		t.Errorf("c = %s, %v", ret, err)
	}
}

// TestStartWaitContext: a reply that does not come in time is an error
// matching the context's, and the late reply is discarded without
// confusing the next command; a reply never waited for is discarded too.
func TestStartWaitContext(t *testing.T) {
	release := make(chan struct{})
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		ignored, slow := fc.mustRecv("ignored"), fc.mustRecv("slow")
		fc.reply(ignored, `1`)
		<-release
		fc.reply(slow, `"late"`)
		fc.reply(fc.mustRecv("next"), `"next"`)
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	if _, err := c.Start(ctxTimeout(t), "ignored", nil); err != nil {
		t.Fatal(err)
	}
	slow, err := c.Start(ctxTimeout(t), "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := slow.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow = %v, want a deadline error", err)
	}
	close(release)
	if ret, err := c.Execute(ctxTimeout(t), "next", nil); err != nil || string(ret) != `"next"` {
		t.Errorf("next command = %s, %v", ret, err)
	}
}

// TestStartNothingSent: arguments that cannot be encoded, a cancelled
// context or a closed client send nothing.
func TestStartNothingSent(t *testing.T) {
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		fc.reply(fc.mustRecv("ok"), `"ok"`)
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	if _, err := c.Start(ctxTimeout(t), "bad", []int{1}); err == nil {
		t.Error("Start with array arguments: no error")
	}
	cctx, ccancel := context.WithCancel(t.Context())
	ccancel()
	if _, err := c.Start(cctx, "x", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context: %v", err)
	}
	// Nothing of the above reached the fake: its first command is "ok".
	if ret, err := c.Execute(ctxTimeout(t), "ok", nil); err != nil || string(ret) != `"ok"` {
		t.Errorf("ok = %s, %v", ret, err)
	}
	c.Close()
	if _, err := c.Start(ctxTimeout(t), "x", nil); !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("Start on a closed client: %v", err)
	}
}
