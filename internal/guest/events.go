package guest

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"strings"
	"time"
)

// readConsole reads the guest's serial console until QEMU closes it,
// recording the text and the events it carries.
func (g *Guest) readConsole() {
	defer g.readers.Done()
	r := bufio.NewReaderSize(g.con, 64<<10)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			g.addConsole(line, time.Now())
		}
		if err != nil {
			break
		}
	}
	g.mu.Lock()
	g.conEnded = true
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

// addConsole records one console line (with its newline, if it had one).
func (g *Guest) addConsole(line string, now time.Time) {
	line = strings.ReplaceAll(line, "\r", "")
	ev, ok, err := ParseEvent(line)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.console.WriteString(line)
	if !ok || err != nil || !strings.HasSuffix(line, "\n") {
		return
	}
	ev.Seq = len(g.events)
	ev.Time = now
	g.events = append(g.events, ev)
	close(g.changed)
	g.changed = make(chan struct{})
}

// Console returns everything the guest printed on its serial console so
// far (kernel messages and event lines), for failure messages.
func (g *Guest) Console() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.console.String()
}

// Events returns a copy of the events received so far, in order.
func (g *Guest) Events() []Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Event(nil), g.events...)
}

// Seq returns the number of events received so far: the Seq the next event
// will have. Take it before acting on the guest and pass it to WaitEvent to
// wait only for what follows the action.
func (g *Guest) Seq() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.events)
}

// WaitEvent returns the first event with Seq >= from that match accepts
// (nil accepts any), waiting for it until ctx ends or QEMU exits.
func (g *Guest) WaitEvent(ctx context.Context, from int, match func(Event) bool) (Event, error) {
	for {
		ev, st := g.next(from, match)
		switch {
		case st.found:
			return ev, nil
		case st.closed:
			return Event{}, newOpError("wait event", ErrClosed)
		case st.ended:
			// The console closes as QEMU exits: report how it exited.
			select {
			case <-g.done:
				return Event{}, newOpError("wait event", g.exitError())
			case <-ctx.Done():
				return Event{}, newOpError("wait event", fmt.Errorf("%w: console closed", ErrExited))
			}
		}
		from = st.scanned
		select {
		case <-st.changed:
		case <-ctx.Done():
			return Event{}, newOpError("wait event", fmt.Errorf("%w; last events:\n%s", ctx.Err(), g.lastEvents(5)))
		}
	}
}

// scanState is the outcome of [Guest.next].
type scanState struct {
	found   bool
	scanned int             // events scanned up to (exclusive)
	changed <-chan struct{} // closed on the next change
	closed  bool            // Close was called
	ended   bool            // the console is gone: no more events
}

// next scans events from 'from' for a match.
func (g *Guest) next(from int, match func(Event) bool) (Event, scanState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := max(from, 0); i < len(g.events); i++ {
		if match == nil || match(g.events[i]) {
			return g.events[i], scanState{found: true}
		}
	}
	return Event{}, scanState{
		scanned: max(from, len(g.events)),
		changed: g.changed,
		closed:  g.closed,
		ended:   g.conEnded,
	}
}

// lastEvents formats the last n events for error messages.
func (g *Guest) lastEvents(n int) string {
	evs := g.Events()
	if len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	if len(evs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  #%d %s\n", e.Seq, e.Raw)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Watch returns the events with Seq >= from as a stream: it yields each
// event as it arrives and ends when the consumer stops, or yields one error
// when ctx ends or QEMU exits.
func (g *Guest) Watch(ctx context.Context, from int) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			ev, err := g.WaitEvent(ctx, from, nil)
			if err != nil {
				yield(Event{}, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
			from = ev.Seq + 1
		}
	}
}
