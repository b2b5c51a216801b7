package bench

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// stepRec is one "nicplug: step" debug record of VM.Apply.
type stepRec struct {
	at      time.Time // when the step returned
	phase   string
	name    string // phase and action, e.g. "finish netdev_del"
	elapsed time.Duration
}

// stepRecorder is a slog.Handler keeping the step records nicplug logs at
// debug level (one per plan step, with its elapsed time).
type stepRecorder struct {
	mu   sync.Mutex
	recs []stepRec
}

func (h *stepRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *stepRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *stepRecorder) WithGroup(string) slog.Handler            { return h }

var netdevType = regexp.MustCompile(`"type":"([a-z]+)"`)

func (h *stepRecorder) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "nicplug: step" {
		return nil
	}
	s := stepRec{at: r.Time}
	var action string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "phase":
			s.phase = a.Value.String()
		case "action":
			action = a.Value.String()
		case "elapsed":
			s.elapsed = a.Value.Duration()
		}
		return true
	})
	cmd, _, _ := strings.Cut(action, " ")
	s.name = s.phase + " " + cmd
	if cmd == "netdev_add" {
		if m := netdevType.FindStringSubmatch(action); m != nil {
			s.name += " " + m[1]
		}
	}
	h.mu.Lock()
	h.recs = append(h.recs, s)
	h.mu.Unlock()
	return nil
}

// take returns the records since the last take and forgets them.
func (h *stepRecorder) take() []stepRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.recs
	h.recs = nil
	return r
}

// linkDown returns the time between the replies to the "down" and "up"
// set_link steps of one apply, and whether both were there.
func linkDown(recs []stepRec) (time.Duration, bool) {
	var down, up time.Time
	for _, r := range recs {
		switch r.phase {
		case "down":
			down = r.at
		case "up":
			up = r.at
		}
	}
	if down.IsZero() || up.IsZero() {
		return 0, false
	}
	return up.Sub(down), true
}
