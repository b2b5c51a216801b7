package guest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EventPrefix starts every event line the guest's /init prints on its
// serial console. Anything before it on a line (kernel messages that got
// interleaved) is ignored.
const EventPrefix = "NICPLUG-EV "

// Event kinds reported by the guest.
const (
	// KindInit: /init started (before modules are loaded).
	KindInit = "init"
	// KindReady: modules loaded, eth0 up, command channel listening.
	// Fields: mac=… (eth0's MAC); stack=… on distribution guests.
	KindReady = "ready"
	// KindCarrier: eth0's carrier, Args[0] "1" or "0". Reported once after
	// ready and on every change.
	KindCarrier = "carrier"
	// KindLease: a DHCP lease was bound, Args[0] is "ADDR/PREFIX"; fields
	// router=…, dns=…, lease=SECONDS.
	KindLease = "lease"
	// KindRenew: a lease was renewed; same shape as KindLease.
	KindRenew = "renew"
	// KindLeaseFail: udhcpc gave up one round of DISCOVERs.
	KindLeaseFail = "leasefail"
	// KindPing: result of the ping of the router after each lease (or,
	// on distribution guests, of the default gateway after each KindAddr):
	// Args are the address and "ok" or "fail".
	KindPing = "ping"
	// KindDeconfig: carrier was lost, udhcpc stopped and eth0's IPv4
	// addresses flushed.
	KindDeconfig = "deconfig"
	// KindAddr: a distribution guest's stack put an IPv4 address on eth0,
	// Args[0] "ADDR/PREFIX" (the busybox guest reports KindLease instead).
	KindAddr = "addr"
	// KindDelAddr: an IPv4 address left eth0 (distribution guests).
	KindDelAddr = "deladdr"
	// KindAddr6: an IPv6 address of global or site scope (not link-local;
	// QEMU's user network advertises the site-local fec0::/64) on a
	// distribution guest's eth0 became usable (duplicate address detection done), Args[0]
	// "ADDR/PREFIX"; reported once per address (not on lifetime updates).
	KindAddr6 = "addr6"
	// KindDelAddr6: an IPv6 address reported by KindAddr6 left eth0.
	KindDelAddr6 = "deladdr6"
	// KindError: something in /init failed; Args describe it.
	KindError = "error"
)

// Event is one machine-readable report from the guest, parsed from a console
// line "NICPLUG-EV KIND [ARG…] [KEY=VALUE…] up=SECONDS".
type Event struct {
	// Seq is the event's index in the guest's event log: 0 for the first.
	Seq int
	// Time is when the host read the line.
	Time time.Time
	// Kind is the first word ("carrier", "lease", …; see the Kind
	// constants).
	Kind string
	// Args are the words after Kind that hold no "=".
	Args []string
	// Fields are the KEY=VALUE words.
	Fields map[string]string
	// Raw is the line from the prefix on.
	Raw string
}

// Arg returns Args[i], or "" when there is no such argument.
func (e Event) Arg(i int) string {
	if i < 0 || i >= len(e.Args) {
		return ""
	}
	return e.Args[i]
}

// Uptime returns the guest's uptime when it printed the event (field "up",
// 10 ms resolution), and whether the field was present and valid.
func (e Event) Uptime() (time.Duration, bool) {
	s, ok := e.Fields["up"]
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// String returns the event line.
func (e Event) String() string { return e.Raw }

// ParseEvent parses one console line. It reports ok=false for lines that
// carry no event, and an error for a line with the prefix but no kind or a
// malformed field.
func ParseEvent(line string) (ev Event, ok bool, err error) {
	i := strings.Index(line, EventPrefix)
	if i < 0 {
		return Event{}, false, nil
	}
	raw := strings.TrimRight(line[i:], "\r\n")
	words := strings.Fields(raw[len(EventPrefix):])
	if len(words) == 0 {
		return Event{}, false, fmt.Errorf("guest: event line %q has no kind", raw)
	}
	ev = Event{Kind: words[0], Raw: raw}
	if strings.Contains(ev.Kind, "=") {
		return Event{}, false, fmt.Errorf("guest: event line %q: kind %q holds '='", raw, ev.Kind)
	}
	for _, w := range words[1:] {
		k, v, isField := strings.Cut(w, "=")
		if !isField {
			ev.Args = append(ev.Args, w)
			continue
		}
		if k == "" {
			return Event{}, false, fmt.Errorf("guest: event line %q: field %q has no key", raw, w)
		}
		if ev.Fields == nil {
			ev.Fields = make(map[string]string)
		}
		ev.Fields[k] = v
	}
	return ev, true, nil
}

// Match returns a predicate for [Guest.WaitEvent] that accepts events of the
// given kind whose leading Args equal args.
func Match(kind string, args ...string) func(Event) bool {
	return func(e Event) bool {
		if e.Kind != kind || len(e.Args) < len(args) {
			return false
		}
		for i, a := range args {
			if e.Args[i] != a {
				return false
			}
		}
		return true
	}
}
