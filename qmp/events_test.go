package qmp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/qmp"
)

// seqEvent is event number i of a burst.
func seqEvent(i int) string {
	return fmt.Sprintf(`{"event": "SEQ", "data": {"n": %d}, "timestamp": {"seconds": 1700000000, "microseconds": %d}}`, i, i)
}

func eventNumbers(t *testing.T, evs []qmp.Event) []int {
	t.Helper()
	var ns []int
	for _, ev := range evs {
		var d struct{ N int }
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatalf("event data %s: %v", ev.Data, err)
		}
		ns = append(ns, d.N)
	}
	return ns
}

func drain(ch <-chan qmp.Event) []qmp.Event {
	var evs []qmp.Event
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// TestEventsSlowConsumer: a subscriber that never reads neither blocks the
// reply nor other subscribers; it keeps the newest events and counts drops.
func TestEventsSlowConsumer(t *testing.T) {
	const burst = 100
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		r := fc.mustRecv("x")
		for i := range burst {
			fc.send(seqEvent(i))
		}
		fc.reply(r, "{}")
		fc.waitHangup()
	})
	c := dial(t, path, &qmp.Config{EventBuffer: 4})
	slow := c.Subscribe(t.Context(), 0) // Config.EventBuffer: 4
	all := c.Subscribe(t.Context(), burst)
	if _, err := c.Execute(ctxTimeout(t), "x", nil); err != nil {
		t.Fatalf("Execute with a stalled subscriber: %v", err)
	}
	if got, want := slow.Dropped(), uint64(burst-4); got != want {
		t.Errorf("slow.Dropped() = %d, want %d", got, want)
	}
	if diff := cmp.Diff([]int{96, 97, 98, 99}, eventNumbers(t, drain(slow.Events()))); diff != "" {
		t.Errorf("slow subscriber kept (-want +got):\n%s", diff)
	}
	evs := drain(all.Events())
	var want []int
	for i := range burst {
		want = append(want, i)
	}
	if diff := cmp.Diff(want, eventNumbers(t, evs)); diff != "" {
		t.Errorf("big subscriber got (-want +got):\n%s", diff)
	}
	if all.Dropped() != 0 {
		t.Errorf("big subscriber dropped %d", all.Dropped())
	}
	if got, want := evs[3].Time, time.Unix(1700000000, 3000); !got.Equal(want) || evs[3].Name != "SEQ" {
		t.Errorf("event 3 = %s at %v, want SEQ at %v", evs[3].Name, got, want)
	}
}

func TestSubscriptionEnds(t *testing.T) {
	checkGoroutines(t)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	ctx, cancel := context.WithCancel(t.Context())
	byCtx := c.Subscribe(ctx, 1)
	byClose := c.Subscribe(t.Context(), 1)
	byClient := c.Subscribe(t.Context(), 1)
	cancel()
	byClose.Close()
	byClose.Close() // idempotent
	for name, s := range map[string]*qmp.Subscription{"context": byCtx, "Close": byClose} {
		select {
		case _, ok := <-s.Events():
			if ok {
				t.Errorf("%s: got an event, want closed channel", name)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s: channel not closed", name)
		}
	}
	c.Close()
	if _, ok := <-byClient.Events(); ok {
		t.Error("subscription survived client Close")
	}
	if _, ok := <-c.Subscribe(t.Context(), 1).Events(); ok {
		t.Error("Subscribe on a closed client gave an open channel")
	}
}

func TestWatch(t *testing.T) {
	checkGoroutines(t)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		r := fc.mustRecv("device_del")
		// The event comes before the reply, as QEMU may do.
		fc.send(`{"event": "DEVICE_DELETED", "data": {"device": "other", "path": "/machine/peripheral/other"}}`)
		fc.send(`{"event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral/net1/virtio-backend"}}`)
		fc.send(`{"event": "DEVICE_DELETED", "data": {"device": "net1", "path": "/machine/peripheral/net1"}}`)
		fc.reply(r, "{}")
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	w := c.Watch(qmp.DeviceDeleted("net1"))
	defer w.Stop()
	if err := c.DeviceDel(ctxTimeout(t), "net1"); err != nil {
		t.Fatal(err)
	}
	ev, err := w.Wait(ctxTimeout(t))
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if want := `{"device": "net1", "path": "/machine/peripheral/net1"}`; string(ev.Data) != want {
		t.Errorf("matched event data %s, want %s", ev.Data, want)
	}
	// Wait again returns the same event, also after Stop.
	w.Stop()
	if ev2, err := w.Wait(ctxTimeout(t)); err != nil || string(ev2.Data) != string(ev.Data) {
		t.Errorf("second Wait = %s, %v", ev2.Data, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.WaitEvent(ctx, qmp.EventName("SHUTDOWN")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitEvent with no event: %v, want context.DeadlineExceeded", err)
	}

	stopped := c.Watch(nil)
	stopped.Stop()
	if _, err := stopped.Wait(ctxTimeout(t)); !errors.Is(err, qmp.ErrWatchStopped) {
		t.Errorf("Wait after Stop: %v, want ErrWatchStopped", err)
	}

	pending := c.Watch(qmp.EventName("SHUTDOWN"))
	c.Close()
	_, err = pending.Wait(ctxTimeout(t))
	wantClosed(t, err)
	_, err = c.Watch(nil).Wait(ctxTimeout(t))
	wantClosed(t, err)
}

func TestEventPredicates(t *testing.T) {
	tests := []struct {
		name  string
		match func(qmp.Event) bool
		ev    qmp.Event
		want  bool
	}{
		{"name", qmp.EventName("STOP", "RESUME"), qmp.Event{Name: "RESUME"}, true},
		{"other name", qmp.EventName("STOP"), qmp.Event{Name: "RESUME"}, false},
		{"device id", qmp.DeviceDeleted("net1"), qmp.Event{Name: "DEVICE_DELETED", Data: json.RawMessage(`{"device":"net1"}`)}, true},
		{"device path", qmp.DeviceDeleted("/machine/peripheral/net1"), qmp.Event{Name: "DEVICE_DELETED", Data: json.RawMessage(`{"device":"net1","path":"/machine/peripheral/net1"}`)}, true},
		{"other device", qmp.DeviceDeleted("net1"), qmp.Event{Name: "DEVICE_DELETED", Data: json.RawMessage(`{"device":"net2"}`)}, false},
		{"device without data", qmp.DeviceDeleted("net1"), qmp.Event{Name: "DEVICE_DELETED"}, false},
		{"rx filter", qmp.NICRxFilterChanged("net0"), qmp.Event{Name: "NIC_RX_FILTER_CHANGED", Data: json.RawMessage(`{"name":"net0","path":"/machine/peripheral/net0/virtio-backend"}`)}, true},
		{"rx filter other", qmp.NICRxFilterChanged("net0"), qmp.Event{Name: "NIC_RX_FILTER_CHANGED", Data: json.RawMessage(`{"name":"net9"}`)}, false},
		{"rx filter wrong event", qmp.NICRxFilterChanged("net0"), qmp.Event{Name: "DEVICE_DELETED", Data: json.RawMessage(`{"name":"net0"}`)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want, got := tt.want, tt.match(tt.ev); want != got {
				t.Errorf("match(%s %s) = %v, want %v", tt.ev.Name, tt.ev.Data, got, want)
			}
		})
	}
}
