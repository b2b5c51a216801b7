package qmp

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Event is an asynchronous QMP event, e.g. DEVICE_DELETED.
type Event struct {
	// Name is the event name, e.g. "DEVICE_DELETED", "SHUTDOWN".
	Name string
	// Data is the event's "data" member, nil when it has none.
	Data json.RawMessage
	// Time is QEMU's timestamp of the event (zero if it sent none).
	Time time.Time
}

// Subscription receives every event from the moment [Client.Subscribe]
// returns, through a bounded buffer.
//
// # Slow consumers
//
// Events never block command replies. When the buffer is full, the oldest
// buffered event is dropped to make room for the new one, and
// [Subscription.Dropped] counts it. The channel is closed when the
// subscription ends: [Subscription.Close], the Subscribe context ending, or
// the client closing. Events already buffered can still be read then.
type Subscription struct {
	c  *Client
	ch chan Event
	// stopCtx detaches the context watcher; set before the subscription is
	// published and read only under c.mu.
	stopCtx func() bool
	dropped atomic.Uint64
}

// Subscribe returns a subscription to all events with a buffer of buf
// events (buf <= 0 means [Config.EventBuffer]). It ends when ctx ends, on
// [Subscription.Close], or when the client closes.
func (c *Client) Subscribe(ctx context.Context, buf int) *Subscription {
	if buf <= 0 {
		buf = c.evbuf
	}
	s := &Subscription{c: c, ch: make(chan Event, buf), stopCtx: func() bool { return false }}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs == nil || ctx.Err() != nil {
		close(s.ch)
		return s
	}
	c.subs[s] = struct{}{}
	s.stopCtx = context.AfterFunc(ctx, s.Close)
	return s
}

// Events returns the channel delivering events; it is closed when the
// subscription ends.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Dropped returns how many events were discarded because the buffer was
// full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes its channel. It is safe to call
// more than once and concurrently with event delivery.
func (s *Subscription) Close() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.subs[s]; !ok {
		return
	}
	delete(c.subs, s)
	s.stopCtx()
	close(s.ch)
}

// deliver hands ev to the subscription without ever blocking: when full,
// the oldest buffered event makes room. Called with c.mu held; the reader
// goroutine is the only sender.
func (s *Subscription) deliver(ev Event) {
	select {
	case s.ch <- ev:
		return
	default:
	}
	select {
	case <-s.ch:
		s.dropped.Add(1)
	default: // the consumer just made room
	}
	select {
	case s.ch <- ev:
	default: // unreachable with a single sender; never block anyway
		s.dropped.Add(1)
	}
}

// ErrWatchStopped is returned by [Watcher.Wait] after [Watcher.Stop] when no
// event had matched.
var ErrWatchStopped = errors.New("qmp: watch stopped")

// Watcher waits for the first event matching a predicate. Create it with
// [Client.Watch] before sending the command that triggers the event, then
// call [Watcher.Wait]: the event cannot be missed in between, and no buffer
// can drop it.
type Watcher struct {
	c     *Client
	match func(Event) bool
	once  sync.Once
	done  chan struct{}
	// ev and err are written once, before done is closed.
	ev  Event
	err error
}

// Watch starts watching for the first event for which match returns true
// (nil matches any event). match runs on the client's reader goroutine: it
// must be quick and must not call the Client. Call [Watcher.Stop] (or
// Wait, then Stop) to release the watcher.
//
//	w := c.Watch(qmp.DeviceDeleted("net1"))
//	defer w.Stop()
//	if err := c.DeviceDel(ctx, "net1"); err != nil { … }
//	ev, err := w.Wait(ctx)
func (c *Client) Watch(match func(Event) bool) *Watcher {
	w := &Watcher{c: c, match: match, done: make(chan struct{})}
	c.mu.Lock()
	if c.watchers == nil {
		closed := c.closed
		c.mu.Unlock()
		w.finish(Event{}, closed)
		return w
	}
	c.watchers[w] = struct{}{}
	c.mu.Unlock()
	return w
}

// Wait returns the matching event, waiting for it until ctx ends. Once an
// event matched, every Wait returns it. It fails with ctx's error (wrapped),
// with [ErrWatchStopped] after Stop, or with an error matching [ErrClosed]
// when the connection closed first.
func (w *Watcher) Wait(ctx context.Context) (Event, error) {
	select {
	case <-w.done:
	default:
		select {
		case <-w.done:
		case <-ctx.Done():
			return Event{}, &OpError{Op: "wait event", Err: ctx.Err()}
		}
	}
	if w.err == ErrWatchStopped {
		return Event{}, w.err
	}
	if w.err != nil {
		return Event{}, &OpError{Op: "wait event", Err: w.err}
	}
	return w.ev, nil
}

// Stop releases the watcher. A later Wait returns the event if one had
// matched before, otherwise [ErrWatchStopped].
func (w *Watcher) Stop() {
	w.c.mu.Lock()
	delete(w.c.watchers, w)
	w.c.mu.Unlock()
	w.finish(Event{}, ErrWatchStopped)
}

func (w *Watcher) finish(ev Event, err error) {
	w.once.Do(func() {
		w.ev, w.err = ev, err
		close(w.done)
	})
}

// WaitEvent waits for the next event matching match, from the moment it is
// called. To wait for an event caused by a command, use [Client.Watch]
// before sending the command instead, or the event may come first.
func (c *Client) WaitEvent(ctx context.Context, match func(Event) bool) (Event, error) {
	w := c.Watch(match)
	defer w.Stop()
	return w.Wait(ctx)
}

// dispatchEvent runs on the reader goroutine. Subscriptions are fed under
// c.mu (non-blocking sends); watchers' predicates run outside the lock.
func (c *Client) dispatchEvent(ev Event) {
	c.mu.Lock()
	for s := range c.subs {
		s.deliver(ev)
	}
	var ws []*Watcher
	for w := range c.watchers {
		ws = append(ws, w)
	}
	c.mu.Unlock()
	for _, w := range ws {
		if w.match != nil && !w.match(ev) {
			continue
		}
		c.mu.Lock()
		_, live := c.watchers[w]
		delete(c.watchers, w)
		c.mu.Unlock()
		if live {
			w.finish(ev, nil)
		}
	}
}

// EventName returns a predicate matching events with any of the names.
func EventName(names ...string) func(Event) bool {
	return func(ev Event) bool {
		for _, n := range names {
			if ev.Name == n {
				return true
			}
		}
		return false
	}
}

// DeviceDeleted returns a predicate matching the DEVICE_DELETED event of the
// device with the given id (or QOM path).
func DeviceDeleted(id string) func(Event) bool {
	return func(ev Event) bool {
		if ev.Name != "DEVICE_DELETED" {
			return false
		}
		var d struct {
			Device string `json:"device"`
			Path   string `json:"path"`
		}
		return json.Unmarshal(ev.Data, &d) == nil && (d.Device == id || d.Path == id)
	}
}

// NICRxFilterChanged returns a predicate matching the NIC_RX_FILTER_CHANGED
// event of the NIC with the given id (or QOM path).
func NICRxFilterChanged(name string) func(Event) bool {
	return func(ev Event) bool {
		if ev.Name != "NIC_RX_FILTER_CHANGED" {
			return false
		}
		var d struct {
			Name string `json:"name"`
			Path string `json:"path"`
		}
		return json.Unmarshal(ev.Data, &d) == nil && (d.Name == name || d.Path == name)
	}
}
