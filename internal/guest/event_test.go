package guest_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nicplug/nicplug/internal/guest"
)

func TestParseEvent(t *testing.T) {
	tests := []struct {
		line    string
		want    guest.Event
		ok      bool
		wantErr bool
	}{
		{line: "", ok: false},
		{line: "[    1.23] virtio_net virtio0 eth0: renamed", ok: false},
		{line: "NICPLUG-EV carrier 0 up=1.73\r\n", ok: true, want: guest.Event{
			Kind: "carrier", Args: []string{"0"}, Fields: map[string]string{"up": "1.73"}, Raw: "NICPLUG-EV carrier 0 up=1.73"}},
		{line: "NICPLUG-EV lease 10.0.2.15/24 router=10.0.2.2 dns=10.0.2.3,1.1.1.1 lease=86400 up=1.90", ok: true, want: guest.Event{
			Kind: "lease", Args: []string{"10.0.2.15/24"},
			Fields: map[string]string{"router": "10.0.2.2", "dns": "10.0.2.3,1.1.1.1", "lease": "86400", "up": "1.90"},
			Raw:    "NICPLUG-EV lease 10.0.2.15/24 router=10.0.2.2 dns=10.0.2.3,1.1.1.1 lease=86400 up=1.90"}},
		{line: "NICPLUG-EV ping 10.0.2.2 ok", ok: true, want: guest.Event{
			Kind: "ping", Args: []string{"10.0.2.2", "ok"}, Raw: "NICPLUG-EV ping 10.0.2.2 ok"}},
		// a kernel message glued in front of the event
		{line: "[ 2.0] oopsNICPLUG-EV ready mac=52:54:00:12:34:56 dns=", ok: true, want: guest.Event{
			Kind: "ready", Fields: map[string]string{"mac": "52:54:00:12:34:56", "dns": ""}, Raw: "NICPLUG-EV ready mac=52:54:00:12:34:56 dns="}},
		{line: "NICPLUG-EV   ", wantErr: true},
		{line: "NICPLUG-EV k=v", wantErr: true},
		{line: "NICPLUG-EV lease =x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok, err := guest.ParseEvent(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseEvent(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			}
			if want, got := tt.ok, ok; want != got {
				t.Errorf("ParseEvent(%q) ok = %v, want %v", tt.line, got, want)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ParseEvent(%q) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestEventAccessors(t *testing.T) {
	ev, _, err := guest.ParseEvent("NICPLUG-EV ping 10.0.2.2 ok up=12.34")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		want, got any
	}{
		{"Arg(0)", "10.0.2.2", ev.Arg(0)},
		{"Arg(1)", "ok", ev.Arg(1)},
		{"Arg(2)", "", ev.Arg(2)},
		{"Arg(-1)", "", ev.Arg(-1)},
		{"String", "NICPLUG-EV ping 10.0.2.2 ok up=12.34", ev.String()},
		{"Match(ping)", true, guest.Match("ping")(ev)},
		{"Match(ping, addr, ok)", true, guest.Match("ping", "10.0.2.2", "ok")(ev)},
		{"Match(ping, addr, fail)", false, guest.Match("ping", "10.0.2.2", "fail")(ev)},
		{"Match(ping, 4 args)", false, guest.Match("ping", "10.0.2.2", "ok", "x")(ev)},
		{"Match(lease)", false, guest.Match("lease")(ev)},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	up, ok := ev.Uptime()
	if want, got := 12340*time.Millisecond, up; !ok || want != got {
		t.Errorf("Uptime() = %v, %v; want %v, true", got, ok, want)
	}
	for _, line := range []string{"NICPLUG-EV x", "NICPLUG-EV x up=abc", "NICPLUG-EV x up=-1"} {
		e, _, _ := guest.ParseEvent(line)
		if _, ok := e.Uptime(); ok {
			t.Errorf("%q: Uptime ok, want not ok", line)
		}
	}
}
