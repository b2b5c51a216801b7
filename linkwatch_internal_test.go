package nicplug

import (
	"bufio"
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
	"github.com/nicplug/nicplug/internal/testenv"
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

func linkwatchExec(mon Monitor, clk *testClock) (*executor, *testenv.LogBuffer) {
	logs := &testenv.LogBuffer{}
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

// linkUp applies a set_link up of net0 on an executor that sent no
// set_link before and returns when the executor recorded it: the guest's
// full linkwatch run it starts.
func linkUp(t *testing.T, e *executor) time.Time {
	t.Helper()
	if err := e.apply(context.Background(), stepsPlan(setLink("net0", true)), nil); err != nil {
		t.Fatal(err)
	}
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	if e.linkwatch.next.IsZero() {
		t.Fatal("set_link up of net0 not recorded")
	}
	return e.linkwatch.next.Add(-linkwatchDelay)
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
		{&linkDrop{dev: "net0", seen: t0}, t0.Add(time.Millisecond), 0},
		{&linkDrop{dev: "net0", seen: t0.Add(linkwatchDelay)}, t0.Add(200 * time.Millisecond), 800 * time.Millisecond},
		{&linkDrop{dev: "net0", seen: t0.Add(linkwatchDelay)}, t0.Add(5 * time.Second), 0},
	}
	for i, tt := range tests {
		if got := tt.d.stretch(tt.start); got != tt.want {
			t.Errorf("%d: stretch = %v, want %v", i, got, tt.want)
		}
	}
}

// linkwatchModel hands each drop to userspace when a Linux guest's
// linkwatch does: at once, or one second after its last full run.
func TestLinkwatchModel(t *testing.T) {
	type ev struct {
		dev  string
		up   bool
		at   time.Duration // from t0
		seen time.Duration // drops: when the guest handles it, from t0
	}
	ms := time.Millisecond
	tests := []struct {
		name string
		evs  []ev
	}{
		{"fresh drop at once", []ev{{"net0", false, 0, 0}}},
		{"plug, then a move 0.2 s later waits for the plug's second",
			[]ev{{"net0", true, 0, 0}, {"net0", false, 200 * ms, time.Second}}},
		// The regression of the first linkwatch rule: the link-up of a
		// move is urgent and does not start a second; the drop before it
		// did.
		{"move, then a move 0.5 s after its link-up waits for the first drop's second",
			[]ev{{"net0", false, 0, 0}, {"net0", true, 50 * ms, 0}, {"net0", false, 550 * ms, time.Second}}},
		{"move, then a move 1.2 s after its drop is handled at once",
			[]ev{{"net0", false, 0, 0}, {"net0", true, 50 * ms, 0}, {"net0", false, 1200 * ms, 1200 * ms}}},
		{"a delayed drop starts the next second",
			[]ev{{"net0", false, 0, 0}, {"net0", true, 50 * ms, 0}, {"net0", false, 500 * ms, time.Second},
				{"net0", true, 1100 * ms, 0}, {"net0", false, 1500 * ms, 2 * time.Second}}},
		{"a link-up before the drop was handled joins it; so does the next drop",
			[]ev{{"net0", false, 0, 0}, {"net0", true, 100 * ms, 0}, {"net0", false, 200 * ms, time.Second},
				{"net0", true, 500 * ms, 0}, {"net0", false, 600 * ms, time.Second}}},
		{"the second is the guest's, not the NIC's",
			[]ev{{"net1", false, 0, 0}, {"net0", false, 300 * ms, time.Second}}},
		{"a second drop of a NIC already down changes nothing",
			[]ev{{"net0", false, 0, 0}, {"net0", false, 500 * ms, 0}, {"net1", false, 1100 * ms, 1100 * ms}}},
	}
	t0 := time.Unix(1700000000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m linkwatchModel
			for i, e := range tt.evs {
				if e.up {
					m.up(e.dev, t0.Add(e.at))
					continue
				}
				if got := m.drop(e.dev, t0.Add(e.at)).Sub(t0); got != e.seen {
					t.Errorf("event %d: drop of %s at %v handled at %v, want %v", i, e.dev, e.at, got, e.seen)
				}
			}
		})
	}
}

// The executor replays every set_link it sends, across plans and NICs,
// through its linkwatch model.
func TestNoteLinkModelsGuest(t *testing.T) {
	e := newExec(&fakeMon{}, nil)
	t0 := time.Unix(1700000000, 0)
	if _, down, ok := e.noteLink(setLink("net0", true), t0); !ok || down {
		t.Errorf("set_link up: down=%v ok=%v, want a link-up", down, ok)
	}
	d, down, ok := e.noteLink(setLink("net1", false), t0.Add(300*time.Millisecond))
	if !ok || !down || d.dev != "net1" || !d.seen.Equal(t0.Add(linkwatchDelay)) {
		t.Errorf("set_link down of net1 0.3 s after net0's link-up: %+v down=%v ok=%v, want seen %v",
			d, down, ok, t0.Add(linkwatchDelay))
	}
	if _, _, ok := e.noteLink(qmpAction("cont"), t0); ok {
		t.Error("cont taken for a set_link")
	}
}

// A move soon after a move: the second drop comes 0.5 s after the first
// move's link-up but 0.55 s after its drop, so the guest handles it one
// second after the first drop, and its reaction then ends the hold. (The
// first rule counted the second from the link-up, ignored this reaction
// as too early and held for the full maximum.)
func TestHoldAfterQuickMove(t *testing.T) {
	clk := &testClock{}
	var drops atomic.Int32
	var drop0 atomic.Int64 // UnixNano of the first drop
	mon, q := newEventMon(t, clk.now, func(cmd string, args json.RawMessage) []fakeEvent {
		if cmd != "set_link" || !strings.Contains(string(args), `"up":false`) {
			return nil
		}
		if drops.Add(1) == 1 {
			drop0.Store(clk.now().UnixNano())
			return []fakeEvent{rxEvent("net0", clk.now().Add(10*time.Millisecond))}
		}
		return []fakeEvent{rxEvent("net0", time.Unix(0, drop0.Load()).Add(linkwatchDelay+30*time.Millisecond))}
	})
	e, logs := linkwatchExec(mon, clk)
	p := Planner{CarrierHold: 5 * time.Second}
	if err := e.apply(context.Background(), movePlan(p), nil); err != nil {
		t.Fatal(err)
	}
	up1 := holdEnd(t, q)
	clk.skip(up1.Add(500 * time.Millisecond).Sub(clk.now()))
	if err := e.apply(context.Background(), movePlan(p), nil); err != nil {
		t.Fatal(err)
	}
	first := time.Unix(0, drop0.Load())
	end := holdEnd(t, q)
	if want := first.Add(linkwatchDelay + MinCarrierHold); end.Before(want) {
		t.Errorf("second hold ended %v after the first drop, want at least %v", end.Sub(first), want.Sub(first))
	}
	if limit := first.Add(3 * time.Second); end.After(limit) {
		t.Errorf("second hold ended %v after the first drop: the guest's reaction at %v did not end it; log:\n%s",
			end.Sub(first), linkwatchDelay+30*time.Millisecond, logs)
	}
	if strings.Contains(logs.String(), "ignored a receive filter change") {
		t.Errorf("the reaction to the second drop was ignored; log:\n%s", logs)
	}
}
