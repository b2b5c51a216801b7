package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/lab"
)

// timeline prints lines stamped with the time since start, from the demo and
// from the goroutine that follows the guest's events, in the order they
// happen.
type timeline struct {
	w  io.Writer
	t0 time.Time

	mu      sync.Mutex // protects the writes and printed
	printed int        // guest events printed so far
	cond    *sync.Cond // signalled when printed grows or following stops
	ended   bool       // the follower stopped
}

func newTimeline(w io.Writer) *timeline {
	tl := &timeline{w: w, t0: time.Now()}
	tl.cond = sync.NewCond(&tl.mu)
	return tl
}

// start makes now time zero.
func (tl *timeline) start() { tl.t0 = time.Now() }

// since formats t relative to time zero.
func (tl *timeline) since(t time.Time) string {
	return fmt.Sprintf("+%.3fs", t.Sub(tl.t0).Seconds())
}

// line writes one stamped line; the caller holds mu.
func (tl *timeline) line(t time.Time, s string) {
	fmt.Fprintf(tl.w, "%-9s %s\n", tl.since(t), s)
}

// printf writes a line stamped now.
func (tl *timeline) printf(format string, args ...any) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.line(time.Now(), fmt.Sprintf(format, args...))
}

// plan writes a plan's header and steps.
func (tl *timeline) plan(what string, p *nicplug.Plan) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.line(time.Now(), fmt.Sprintf("plan: %s (%d steps, kind %s)", what, len(p.Steps), p.Kind))
	for _, s := range p.Steps {
		fmt.Fprintf(tl.w, "%-9s   %2d  %-8s %-4s  %s\n", "", s.Num, s.Phase, s.Do.Type, s.Do)
	}
}

// follow prints the guest's events as they arrive (and, when verbose, its
// other console lines) until the returned stop is called; stop is
// idempotent and returns once everything read has been printed.
func (tl *timeline) follow(ctx context.Context, g *guest.Guest, verbose bool) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			tl.mu.Lock()
			tl.ended = true
			tl.cond.Broadcast()
			tl.mu.Unlock()
		}()
		for ev, err := range g.Watch(ctx, 0) {
			if err != nil {
				return
			}
			tl.mu.Lock()
			tl.line(ev.Time, "guest: "+describe(ev))
			tl.printed = ev.Seq + 1
			tl.cond.Broadcast()
			tl.mu.Unlock()
		}
	}()
	if verbose {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tl.console(ctx, g)
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}

// console prints the guest's console lines that carry no event.
func (tl *timeline) console(ctx context.Context, g *guest.Guest) {
	done := 0
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		text := g.Console()
		if i := strings.LastIndexByte(text, '\n'); i+1 > done {
			tl.mu.Lock()
			for _, l := range strings.Split(text[done:i], "\n") {
				if l = strings.TrimRight(l, "\r"); l != "" && !strings.Contains(l, guest.EventPrefix) {
					fmt.Fprintf(tl.w, "%-9s console| %s\n", "", l)
				}
			}
			tl.mu.Unlock()
			done = i + 1
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// describe renders a guest event for the timeline.
func describe(ev guest.Event) string {
	switch ev.Kind {
	case guest.KindInit:
		return "/init started"
	case guest.KindReady:
		return "ready, eth0 mac " + ev.Fields["mac"]
	case guest.KindLease, guest.KindRenew:
		return fmt.Sprintf("%s %s router %s", ev.Kind, ev.Arg(0), ev.Fields["router"])
	case guest.KindDeconfig:
		return "deconfig (DHCP client stopped, addresses flushed)"
	}
	parts := append([]string{ev.Kind}, ev.Args...)
	for k, v := range ev.Fields {
		if k != "up" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// sync waits until the event with sequence seq has been printed.
func (tl *timeline) sync(seq int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for tl.printed <= seq && !tl.ended {
		tl.cond.Wait()
	}
}

// waitFor waits for a guest event after from and for it to be printed.
func (tl *timeline) waitFor(ctx context.Context, g *guest.Guest, from int, match func(guest.Event) bool) (guest.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ev, err := g.WaitEvent(ctx, from, match)
	if err != nil {
		return ev, err
	}
	tl.sync(ev.Seq)
	return ev, nil
}

// result is one update's latencies, measured from the start of its apply.
type result struct {
	what              string
	apply             time.Duration // UpdateDevice's plan apply
	down              time.Duration // guest saw carrier 0 (switch, unplug)
	carrier           time.Duration // guest saw carrier 1
	lease, ping       time.Duration
	addr              netip.Prefix
	hasDown, hasLease bool
}

// update plans x, prints the plan and applies it; it returns when the apply
// started and how long it took.
func (tl *timeline) update(ctx context.Context, vm *nicplug.VM, what string, x []byte) (time.Time, time.Duration, error) {
	p, err := vm.PlanUpdate(ctx, x)
	if err != nil {
		return time.Time{}, 0, err
	}
	tl.plan(what, p)
	t0 := time.Now()
	if err := vm.Apply(ctx, p); err != nil {
		return t0, 0, err
	}
	d := time.Since(t0)
	tl.printf("applied in %s", ms(d))
	return t0, d, nil
}

// connect applies a plug or switch and waits until the guest has a lease in
// subnet and has pinged its router.
func (tl *timeline) connect(ctx context.Context, vm *nicplug.VM, g *guest.Guest, what string, x []byte, subnet netip.Prefix) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	from := g.Seq()
	t0, apply, err := tl.update(ctx, vm, what, x)
	if err != nil {
		return result{}, err
	}
	c, err := lab.WaitConnected(ctx, g, from, subnet)
	if err != nil {
		return result{}, err
	}
	tl.sync(c.Ping.Seq)
	r := result{what: what, apply: apply, carrier: c.Carrier.Time.Sub(t0), lease: c.Lease.Time.Sub(t0),
		ping: c.Ping.Time.Sub(t0), addr: c.Addr, hasLease: true}
	if c.Down != nil {
		r.down, r.hasDown = c.Down.Time.Sub(t0), true
	}
	return r, nil
}

// disconnect applies an unplug and waits until the guest has dropped its
// address.
func (tl *timeline) disconnect(ctx context.Context, vm *nicplug.VM, g *guest.Guest, what string, x []byte) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	from := g.Seq()
	t0, apply, err := tl.update(ctx, vm, what, x)
	if err != nil {
		return result{}, err
	}
	d, err := lab.WaitDisconnected(ctx, g, from)
	if err != nil {
		return result{}, err
	}
	tl.sync(d.Deconfig.Seq)
	return result{what: what, apply: apply, down: d.Carrier.Time.Sub(t0), hasDown: true}, nil
}

// summary is the latencies of every update.
type summary []result

func (s summary) write(w io.Writer) {
	fmt.Fprintf(w, "\nlatencies from the start of each apply (host clock; guest events as read off its serial console;\na switch's apply includes its carrier hold):\n")
	fmt.Fprintf(w, "  %-22s %9s %10s %10s %10s %10s  %s\n", "", "apply", "carrier 0", "carrier 1", "lease", "ping ok", "address")
	for _, r := range s {
		cell := func(ok bool, d time.Duration) string {
			if !ok {
				return "-"
			}
			return ms(d).String()
		}
		addr := "-"
		if r.hasLease {
			addr = r.addr.String()
		}
		fmt.Fprintf(w, "  %-22s %9s %10s %10s %10s %10s  %s\n", r.what, ms(r.apply), cell(r.hasDown, r.down),
			cell(r.hasLease, r.carrier), cell(r.hasLease, r.lease), cell(r.hasLease, r.ping), addr)
	}
}

// ms rounds d to a tenth of a millisecond.
func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

// joinArgs renders QEMU arguments for display.
func joinArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if strings.ContainsAny(a, " {\"") {
			q[i] = "'" + a + "'"
		}
	}
	return strings.Join(q, " ")
}

// slogHandler returns a handler that writes nicplug's log records as
// unstamped timeline lines.
func (tl *timeline) slogHandler() slog.Handler {
	return slog.NewTextHandler(lockedWriter{tl}, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})
}

// lockedWriter writes through the timeline's lock, indented.
type lockedWriter struct{ tl *timeline }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.tl.mu.Lock()
	defer l.tl.mu.Unlock()
	if _, err := fmt.Fprintf(l.tl.w, "%-9s log| %s", "", p); err != nil {
		return 0, err
	}
	return len(p), nil
}
