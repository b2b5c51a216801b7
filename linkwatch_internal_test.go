package nicplug

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/qmp"
)

// eventQEMU is a fake QMP server on one end of a socketpair: it answers
// every command with an empty return and sends the events its hook gives
// (after the reply), stamped with the test's clock.
type eventQEMU struct {
	t    *testing.T
	conn *net.UnixConn
	// hook returns the events (name, data, QEMU timestamp) to send after
	// replying to cmd; nil means none.
	hook func(cmd string, args json.RawMessage) []fakeEvent
	mu   sync.Mutex
	// seen are the commands received, with the test clock's time.
	seen []seenCmd
	now  func() time.Time
}

type fakeEvent struct {
	name string
	data string
	at   time.Time
}

type seenCmd struct {
	cmd  string
	args string
	at   time.Time
}

// newEventMon starts an eventQEMU and returns a *qmp.Client talking to it.
func newEventMon(t *testing.T, now func() time.Time, hook func(string, json.RawMessage) []fakeEvent) (*qmp.Client, *eventQEMU) {
	t.Helper()
	// No SOCK_CLOEXEC: darwin's syscall lacks it (make lint vets for it).
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "qmp")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	q := &eventQEMU{t: t, conn: conn(fds[1]), hook: hook, now: now}
	done := make(chan struct{})
	go func() { defer close(done); q.serve() }()
	t.Cleanup(func() { q.conn.Close(); <-done })
	c, err := qmp.New(context.Background(), conn(fds[0]), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, q
}

func (q *eventQEMU) serve() {
	q.conn.Write([]byte(`{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}` + "\n"))
	sc := bufio.NewScanner(q.conn)
	for sc.Scan() {
		var req struct {
			Execute   string          `json:"execute"`
			Arguments json.RawMessage `json:"arguments"`
			ID        json.RawMessage `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			q.t.Errorf("fake QEMU: bad request %q: %v", sc.Text(), err)
			return
		}
		q.mu.Lock()
		q.seen = append(q.seen, seenCmd{req.Execute, string(req.Arguments), q.now()})
		q.mu.Unlock()
		var evs []fakeEvent
		if q.hook != nil && req.Execute != "qmp_capabilities" {
			evs = q.hook(req.Execute, req.Arguments)
		}
		id := req.ID
		if id == nil {
			id = json.RawMessage("null")
		}
		fmt.Fprintf(q.conn, "{\"return\": {}, \"id\": %s}\n", id)
		for _, ev := range evs {
			fmt.Fprintf(q.conn, "{\"event\": %q, \"data\": %s, \"timestamp\": {\"seconds\": %d, \"microseconds\": %d}}\n",
				ev.name, ev.data, ev.at.Unix(), ev.at.Nanosecond()/1000)
		}
	}
}

// calls returns the commands received so far.
func (q *eventQEMU) calls() []seenCmd {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]seenCmd(nil), q.seen...)
}

// last returns the last command cmd with args containing sub.
func (q *eventQEMU) last(cmd, sub string) (seenCmd, bool) {
	cs := q.calls()
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].cmd == cmd && strings.Contains(cs[i].args, sub) {
			return cs[i], true
		}
	}
	return seenCmd{}, false
}

func (q *eventQEMU) count(cmd string) int {
	n := 0
	for _, c := range q.calls() {
		if c.cmd == cmd {
			n++
		}
	}
	return n
}

// testClock is the wall clock plus an offset the test moves forward, so
// that "0.2 s after the link-up" needs no sleeping.
type testClock struct{ off atomic.Int64 }

func (c *testClock) now() time.Time       { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) skip(d time.Duration) { c.off.Add(int64(d)) }
func rxEvent(dev string, at time.Time) fakeEvent {
	return fakeEvent{rxFilterChanged, fmt.Sprintf(`{"name": %q, "path": "/machine/peripheral/%s/virtio-backend"}`, dev, dev), at}
}

// syncBuf is a log sink safe for concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func linkwatchExec(mon Monitor, clk *testClock) (*executor, *syncBuf) {
	logs := &syncBuf{}
	e := newExec(mon, nil)
	e.log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.now = clk.now
	return e, logs
}

func stepsPlan(actions ...Action) *Plan {
	p := &Plan{VM: "vm"}
	for i, a := range actions {
		p.Steps = append(p.Steps, Step{Num: i + 1, Phase: "test", Do: a})
	}
	return p
}

// movePlan is the link part of a switch of net0: arm, down, hold, up.
func movePlan(p Planner) *Plan {
	var steps []Action
	if p.adaptive() {
		steps = append(steps, Action{Type: ActionQMP, Command: "query-rx-filter", Args: backend.Object("name", "net0")})
	}
	steps = append(steps, setLink("net0", false), p.holdAction("net0"), setLink("net0", true))
	return stepsPlan(steps...)
}

// linkUp applies a set_link up of net0 and returns when the executor
// recorded it.
func linkUp(t *testing.T, e *executor) time.Time {
	t.Helper()
	if err := e.apply(context.Background(), stepsPlan(setLink("net0", true)), nil); err != nil {
		t.Fatal(err)
	}
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	at, ok := e.lastLink["net0"]
	if !ok {
		t.Fatal("set_link up of net0 not recorded")
	}
	return at
}

// holdEnd returns when (test clock) the move's final set_link up arrived.
func holdEnd(t *testing.T, q *eventQEMU) time.Time {
	t.Helper()
	up, ok := q.last("set_link", `"up":true`)
	if !ok {
		t.Fatal("no set_link up received")
	}
	return up.at
}

// A filter change 0.3 s after the previous link-up is the guest still
// reacting to it: it does not end a hold that started 0.2 s after it. The
// hold re-arms the watch and ends at the change that follows.
func TestHoldIgnoresFilterChangeFromLinkwatchWindow(t *testing.T) {
	clk := &testClock{}
	var up0 atomic.Int64 // UnixNano of the link-up, once applied
	var queries atomic.Int32
	mon, q := newEventMon(t, clk.now, func(cmd string, args json.RawMessage) []fakeEvent {
		switch {
		case cmd == "set_link" && strings.Contains(string(args), `"up":false`):
			return []fakeEvent{rxEvent("net0", time.Unix(0, up0.Load()).Add(300*time.Millisecond))}
		case cmd == "query-rx-filter" && queries.Add(1) > 1:
			// The reaction to the drop, once the guest saw it.
			return []fakeEvent{rxEvent("net0", time.Unix(0, up0.Load()).Add(linkwatchDelay+10*time.Millisecond))}
		}
		return nil
	})
	e, logs := linkwatchExec(mon, clk)
	t0 := linkUp(t, e)
	up0.Store(t0.UnixNano())
	clk.skip(t0.Add(200 * time.Millisecond).Sub(clk.now()))
	if err := e.apply(context.Background(), movePlan(Planner{CarrierHold: 5 * time.Second}), nil); err != nil {
		t.Fatal(err)
	}
	if end, want := holdEnd(t, q), t0.Add(linkwatchDelay+MinCarrierHold); end.Before(want) {
		t.Errorf("hold ended %v after the link-up, want at least %v", end.Sub(t0), want.Sub(t0))
	}
	if n := q.count("query-rx-filter"); n < 2 {
		t.Errorf("query-rx-filter sent %d times, want the arm and a re-arm", n)
	}
	if !strings.Contains(logs.String(), "carrier hold ended: the guest changed its receive filter") {
		t.Errorf("hold did not end at the guest's reaction; log:\n%s", logs)
	}
}

// A hold that starts 0.2 s after the NIC's previous link-up lasts at least
// the rest of the linkwatch window plus its minimum (adaptive) or its
// duration (fixed), measured from the link-up.
func TestHoldStretchedInLinkwatchWindow(t *testing.T) {
	tests := []struct {
		name  string
		p     Planner
		react bool
		want  time.Duration // from the link-up
	}{
		{"adaptive, guest reacts at once", Planner{CarrierHold: 5 * time.Second}, true, linkwatchDelay + MinCarrierHold},
		{"adaptive, no reaction", Planner{CarrierHold: 300 * time.Millisecond}, false, linkwatchDelay + 300*time.Millisecond},
		{"fixed", Planner{CarrierHold: 300 * time.Millisecond, FixedHold: true}, false, linkwatchDelay + 300*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &testClock{}
			mon, q := newEventMon(t, clk.now, func(cmd string, args json.RawMessage) []fakeEvent {
				if tt.react && cmd == "set_link" && strings.Contains(string(args), `"up":false`) {
					// Stamped after the window: a real reaction.
					return []fakeEvent{rxEvent("net0", clk.now().Add(linkwatchDelay))}
				}
				return nil
			})
			e, logs := linkwatchExec(mon, clk)
			t0 := linkUp(t, e)
			clk.skip(t0.Add(200 * time.Millisecond).Sub(clk.now()))
			if err := e.apply(context.Background(), movePlan(tt.p), nil); err != nil {
				t.Fatal(err)
			}
			if got := holdEnd(t, q).Sub(t0); got < tt.want {
				t.Errorf("hold ended %v after the link-up, want at least %v", got, tt.want)
			}
			if !strings.Contains(logs.String(), "carrier hold stretched") {
				t.Errorf("no stretch logged; log:\n%s", logs)
			}
		})
	}
}

// A hold 5 s after the previous link-up, or on a fresh executor, is not
// stretched and ends at the guest's first reaction.
func TestHoldOutsideLinkwatchWindow(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("fresh=%v", fresh), func(t *testing.T) {
			clk := &testClock{}
			mon, q := newEventMon(t, clk.now, func(cmd string, args json.RawMessage) []fakeEvent {
				if cmd == "set_link" && strings.Contains(string(args), `"up":false`) {
					return []fakeEvent{rxEvent("net0", clk.now())}
				}
				return nil
			})
			e, logs := linkwatchExec(mon, clk)
			if !fresh {
				t0 := linkUp(t, e)
				clk.skip(t0.Add(5 * time.Second).Sub(clk.now()))
			}
			if err := e.apply(context.Background(), movePlan(Planner{CarrierHold: 5 * time.Second}), nil); err != nil {
				t.Fatal(err)
			}
			down, _ := q.last("set_link", `"up":false`)
			if got := holdEnd(t, q).Sub(down.at); got < MinCarrierHold {
				t.Errorf("hold lasted %v, want at least %v", got, MinCarrierHold)
			}
			if n := q.count("query-rx-filter"); n != 1 {
				t.Errorf("query-rx-filter sent %d times, want 1 (no re-arm)", n)
			}
			l := logs.String()
			if strings.Contains(l, "stretched") || !strings.Contains(l, "carrier hold ended: the guest changed its receive filter") {
				t.Errorf("want an unstretched hold ended by the reaction; log:\n%s", l)
			}
		})
	}
}

// A filter change between the arm step and the drop (the guest busy with
// something else) is re-armed too, so the guest's reaction to the drop
// still ends the hold.
func TestHoldRearmsAfterChangeBeforeDrop(t *testing.T) {
	clk := &testClock{}
	var queries atomic.Int32
	mon, q := newEventMon(t, clk.now, func(cmd string, args json.RawMessage) []fakeEvent {
		if cmd == "query-rx-filter" {
			queries.Add(1)
			return []fakeEvent{rxEvent("net0", clk.now())} // the first is before the drop
		}
		return nil
	})
	e, logs := linkwatchExec(mon, clk)
	if err := e.apply(context.Background(), movePlan(Planner{CarrierHold: 5 * time.Second}), nil); err != nil {
		t.Fatal(err)
	}
	if n := q.count("query-rx-filter"); n != 2 {
		t.Errorf("query-rx-filter sent %d times, want the arm and one re-arm", n)
	}
	if !strings.Contains(logs.String(), "carrier hold ended: the guest changed its receive filter") {
		t.Errorf("hold did not end at the guest's reaction; log:\n%s", logs)
	}
}

func TestLinkDropStretch(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	tests := []struct {
		d     *linkDrop
		start time.Time
		want  time.Duration
	}{
		{nil, t0, 0},
		{&linkDrop{dev: "net0"}, t0, 0},
		{&linkDrop{dev: "net0", prev: t0}, t0.Add(200 * time.Millisecond), 800 * time.Millisecond},
		{&linkDrop{dev: "net0", prev: t0}, t0.Add(linkwatchDelay), 0},
		{&linkDrop{dev: "net0", prev: t0}, t0.Add(5 * time.Second), 0},
	}
	for i, tt := range tests {
		if got := tt.d.stretch(tt.start); got != tt.want {
			t.Errorf("%d: stretch = %v, want %v", i, got, tt.want)
		}
	}
}

// The executor remembers each NIC's latest set_link, up or down, across
// plans.
func TestNoteLinkRemembersPerDevice(t *testing.T) {
	e := newExec(&fakeMon{}, nil)
	t0 := time.Unix(1700000000, 0)
	if d, down, ok := e.noteLink(setLink("net0", true), t0); !ok || down || !d.prev.IsZero() {
		t.Errorf("first set_link: %+v down=%v ok=%v, want no previous event", d, down, ok)
	}
	e.noteLink(setLink("net1", false), t0.Add(time.Second))
	d, down, ok := e.noteLink(setLink("net0", false), t0.Add(2*time.Second))
	if !ok || !down || d.dev != "net0" || !d.prev.Equal(t0) {
		t.Errorf("second set_link of net0: %+v down=%v ok=%v, want prev %v", d, down, ok, t0)
	}
	if _, _, ok := e.noteLink(qmpAction("cont"), t0); ok {
		t.Error("cont taken for a set_link")
	}
}
