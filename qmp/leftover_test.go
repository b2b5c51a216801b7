package qmp_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/qmp"
)

// TestDialDiscardsLeftovers: QEMU 10.0 hands the reply to a command still
// running when a client went away to the monitor's next client, before or
// after the greeting and with the old client's id (here 1, the id this
// client's own first command gets). The client discards every reply before
// the one to its handshake and matches its own commands' replies.
func TestDialDiscardsLeftovers(t *testing.T) {
	path := startFake(t, func(fc *fakeConn) {
		fc.send(`{"return": "hub 0\r\n", "id": 1}`) // before the greeting
		fc.send(greeting)
		caps := fc.mustRecv("qmp_capabilities")
		if id := string(caps.ID); len(id) < 10 {
			t.Errorf("fake: qmp_capabilities has id %s, want a long random one", id)
		}
		fc.send(`{"return": {}, "id": 1}`, `{"error": {"class": "GenericError", "desc": "old"}, "id": 2}`)
		fc.reply(caps, `{}`)
		r := fc.mustRecv("query-status")
		fc.reply(r, `{"status": "running", "running": true}`)
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	ret, err := c.Execute(ctxTimeout(t), "query-status", nil)
	if err != nil || !strings.Contains(string(ret), "running") {
		t.Errorf("query-status after leftovers = %s, %v", ret, err)
	}
}

// TestDialLogsLeftovers: each discarded leftover is logged.
func TestDialLogsLeftovers(t *testing.T) {
	path := startFake(t, func(fc *fakeConn) {
		fc.send(greeting)
		caps := fc.mustRecv("qmp_capabilities")
		fc.send(`{"return": "stale", "id": 1}`)
		fc.reply(caps, `{}`)
		fc.waitHangup()
	})
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	dial(t, path, &qmp.Config{Logger: logger})
	if !strings.Contains(logs.String(), "left over from the monitor's previous client") {
		t.Errorf("no warning for a leftover reply:\n%s", logs.String())
	}
}
