package qmp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/qmp"
)

// TestMalformedReply (issue 13): a line that answers the command's id but
// is no well-formed reply (neither return nor error, an error without a
// class, fields of the wrong type) fails the command at once with an error
// that says so in words, quotes the line cut on one line, and matches
// qmp.ErrMalformedReply; it is not a *qmp.CommandError (no QMP error
// class), and the client stays usable.
func TestMalformedReply(t *testing.T) {
	long := strings.Repeat("z", 500)
	tests := []struct {
		name, line string // line: %s is the command's id
		want       string
	}{
		{"neither return nor error", `{"id": %s}`,
			`qmp: x: malformed reply from the monitor: neither "return" nor "error": "{\"id\": 1}"`},
		{"error null", `{"error": null, "id": %s}`, `neither "return" nor "error"`},
		{"error without class", `{"error": {"desc": "` + long + `"}, "id": %s}`,
			`qmp: x: malformed reply from the monitor: an "error" without a "class": "{\"error\": {\"desc\": \"` + strings.Repeat("z", 40) + `"…`},
		{"error of the wrong type", `{"error": "no", "id": %s}`,
			`qmp: x: malformed reply from the monitor: json: cannot unmarshal string into Go struct field`},
		{"both return and error", `{"return": {}, "error": {"class": "GenericError", "desc": "no"}, "id": %s}`,
			`malformed reply from the monitor: both "return" and "error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := startFake(t, func(fc *fakeConn) {
				fc.handshake()
				r := fc.mustRecv("x")
				fc.send(fmt.Sprintf(tt.line, r.ID))
				fc.reply(fc.mustRecv("y"), `{"ok": true}`)
				fc.waitHangup()
			})
			c := dial(t, path, nil)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			_, err := c.Execute(ctx, "x", nil)
			if !errors.Is(err, qmp.ErrMalformedReply) {
				t.Fatalf("Execute: %v, want ErrMalformedReply", err)
			}
			if ctx.Err() != nil {
				t.Errorf("Execute waited for its context: %v", err)
			}
			var ce *qmp.CommandError
			if errors.As(err, &ce) {
				t.Errorf("a malformed reply is a CommandError: %v", err)
			}
			if s := err.Error(); !strings.Contains(s, tt.want) || strings.Contains(s, "\n") || len(s) > 300 {
				t.Errorf("error:\n%s\nwant it to contain\n%s", s, tt.want)
			}
			if got, err := c.Execute(ctx, "y", nil); err != nil || string(got) != `{"ok": true}` {
				t.Errorf("next command: %s, %v", got, err)
			}
		})
	}
}

// TestMalformedReturn (issue 13): a reply whose return value a helper
// cannot decode is a malformed reply too, quoted and cut.
func TestMalformedReturn(t *testing.T) {
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		fc.reply(fc.mustRecv("query-status"), `{"status": 7, "running": "`+strings.Repeat("y", 300)+`"}`)
		fc.reply(fc.mustRecv("human-monitor-command"), `{}`)
		fc.reply(fc.mustRecv("qom-list"), `"x"`)
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	_, err1 := c.QueryStatus(ctxTimeout(t))
	_, err2 := c.HMP(ctxTimeout(t), "info network")
	_, err3 := c.QOMList(ctxTimeout(t), "/machine")
	for _, tt := range []struct {
		err  error
		want string
	}{
		{err1, `qmp: query-status: malformed reply from the monitor: json: cannot unmarshal number into Go struct field Status.status of type string: "{\"status\": 7, \"running\": \"` + strings.Repeat("y", 34) + `"…`},
		{err2, `qmp: human-monitor-command: malformed reply from the monitor: json: cannot unmarshal object into Go value of type string: "{}"`},
		{err3, `qmp: qom-list: malformed reply from the monitor: json: cannot unmarshal string into Go value of type []qmp.ObjectProperty: "\"x\""`},
	} {
		if !errors.Is(tt.err, qmp.ErrMalformedReply) || tt.err.Error() != tt.want {
			t.Errorf("error:\n%v\nwant (matching ErrMalformedReply)\n%s", tt.err, tt.want)
		}
	}
	// DecodeReturn is the same, for callers decoding Execute's result.
	var n int
	err := qmp.DecodeReturn("qom-get", []byte(`"seven"`), &n)
	if want := `qmp: qom-get: malformed reply from the monitor: json: cannot unmarshal string into Go value of type int: "\"seven\""`; !errors.Is(err, qmp.ErrMalformedReply) || err.Error() != want {
		t.Errorf("DecodeReturn: %v\nwant %s", err, want)
	}
}
