package qmp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/qmp"
)

// decodeAny turns JSON into generic values for cmp.
func decodeAny(t *testing.T, raw string) any {
	t.Helper()
	if raw == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", raw, err)
	}
	return v
}

// TestHelpersWire checks what each typed helper sends and how it decodes
// the reply.
func TestHelpersWire(t *testing.T) {
	type result struct {
		Value any
		Err   error
	}
	tests := []struct {
		name     string
		call     func(ctx context.Context, c *qmp.Client) (any, error)
		wantCmd  string
		wantArgs string
		ret      string
		want     any
	}{
		{
			name:    "CloseFD",
			call:    func(ctx context.Context, c *qmp.Client) (any, error) { return nil, c.CloseFD(ctx, "fd0") },
			wantCmd: "closefd", wantArgs: `{"fdname":"fd0"}`, ret: "{}",
		},
		{
			name: "NetdevAdd map",
			call: func(ctx context.Context, c *qmp.Client) (any, error) {
				return nil, c.NetdevAdd(ctx, map[string]any{"type": "tap", "id": "t0", "fd": "fd0", "vhost": false})
			},
			wantCmd: "netdev_add", wantArgs: `{"type":"tap","id":"t0","fd":"fd0","vhost":false}`, ret: "{}",
		},
		{
			name: "NetdevAdd struct",
			call: func(ctx context.Context, c *qmp.Client) (any, error) {
				return nil, c.NetdevAdd(ctx, struct {
					Type   string `json:"type"`
					ID     string `json:"id"`
					HubID  int    `json:"hubid"`
					Netdev string `json:"netdev"`
				}{"hubport", "t0-hp", 0, "t0"})
			},
			wantCmd: "netdev_add", wantArgs: `{"type":"hubport","id":"t0-hp","hubid":0,"netdev":"t0"}`, ret: "{}",
		},
		{
			name:    "NetdevDel",
			call:    func(ctx context.Context, c *qmp.Client) (any, error) { return nil, c.NetdevDel(ctx, "t0") },
			wantCmd: "netdev_del", wantArgs: `{"id":"t0"}`, ret: "{}",
		},
		{
			name:    "SetLink down",
			call:    func(ctx context.Context, c *qmp.Client) (any, error) { return nil, c.SetLink(ctx, "net0", false) },
			wantCmd: "set_link", wantArgs: `{"name":"net0","up":false}`, ret: "{}",
		},
		{
			name: "DeviceAdd",
			call: func(ctx context.Context, c *qmp.Client) (any, error) {
				return nil, c.DeviceAdd(ctx, map[string]any{"driver": "virtio-net-pci", "id": "net1", "netdev": "hp1"})
			},
			wantCmd: "device_add", wantArgs: `{"driver":"virtio-net-pci","id":"net1","netdev":"hp1"}`, ret: "{}",
		},
		{
			name:    "DeviceDel",
			call:    func(ctx context.Context, c *qmp.Client) (any, error) { return nil, c.DeviceDel(ctx, "net1") },
			wantCmd: "device_del", wantArgs: `{"id":"net1"}`, ret: "{}",
		},
		{
			name: "QOMGet",
			call: func(ctx context.Context, c *qmp.Client) (any, error) {
				raw, err := c.QOMGet(ctx, "/machine/peripheral/net0", "netdev")
				return string(raw), err
			},
			wantCmd: "qom-get", wantArgs: `{"path":"/machine/peripheral/net0","property":"netdev"}`, ret: `"hostnet0"`, want: `"hostnet0"`,
		},
		{
			name: "QOMSet",
			call: func(ctx context.Context, c *qmp.Client) (any, error) {
				return nil, c.QOMSet(ctx, "/objects/x", "size", 3)
			},
			wantCmd: "qom-set", wantArgs: `{"path":"/objects/x","property":"size","value":3}`, ret: "{}",
		},
		{
			name: "QOMList",
			call: func(ctx context.Context, c *qmp.Client) (any, error) {
				return c.QOMList(ctx, "/machine/peripheral")
			},
			wantCmd: "qom-list", wantArgs: `{"path":"/machine/peripheral"}`,
			ret:  `[{"name": "type", "type": "string"}, {"name": "net0", "type": "child<virtio-net-pci>", "description": "d", "default-value": 1}]`,
			want: []qmp.ObjectProperty{{Name: "type", Type: "string"}, {Name: "net0", Type: "child<virtio-net-pci>", Description: "d", DefaultValue: json.RawMessage("1")}},
		},
		{
			name:    "HMP",
			call:    func(ctx context.Context, c *qmp.Client) (any, error) { return c.HMP(ctx, "info network") },
			wantCmd: "human-monitor-command", wantArgs: `{"command-line":"info network"}`,
			ret: `"hub 0\r\n \\ hub0port0: index=0\r\n"`, want: "hub 0\r\n \\ hub0port0: index=0\r\n",
		},
		{
			name:    "Cont",
			call:    func(ctx context.Context, c *qmp.Client) (any, error) { return nil, c.Cont(ctx) },
			wantCmd: "cont", ret: "{}",
		},
		{
			name:    "Stop",
			call:    func(ctx context.Context, c *qmp.Client) (any, error) { return nil, c.Stop(ctx) },
			wantCmd: "stop", ret: "{}",
		},
		{
			name:    "QueryStatus",
			call:    func(ctx context.Context, c *qmp.Client) (any, error) { return c.QueryStatus(ctx) },
			wantCmd: "query-status", ret: `{"status": "prelaunch", "singlestep": false, "running": false}`,
			want: qmp.Status{Status: "prelaunch", Running: false},
		},
		{
			name:    "AnnounceSelf defaults",
			call:    func(ctx context.Context, c *qmp.Client) (any, error) { return nil, c.AnnounceSelf(ctx, nil) },
			wantCmd: "announce-self", wantArgs: `{"initial":50,"max":550,"rounds":5,"step":100}`, ret: "{}",
		},
		{
			name: "AnnounceSelf params",
			call: func(ctx context.Context, c *qmp.Client) (any, error) {
				return nil, c.AnnounceSelf(ctx, &qmp.AnnounceParams{Initial: time.Millisecond, Rounds: 2, Interfaces: []string{"net0"}, ID: "nicplug"})
			},
			wantCmd: "announce-self", wantArgs: `{"initial":1,"max":550,"rounds":2,"step":100,"interfaces":["net0"],"id":"nicplug"}`, ret: "{}",
		},
	}
	reqs := make(chan request)
	rets := make(chan string)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		for {
			r, ok := fc.recv()
			if !ok {
				return
			}
			reqs <- r
			fc.reply(r, <-rets)
		}
	})
	c := dial(t, path, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan result, 1)
			go func() {
				v, err := tt.call(ctxTimeout(t), c)
				got <- result{v, err}
			}()
			r := <-reqs
			rets <- tt.ret
			if r.Execute != tt.wantCmd {
				t.Errorf("sent command %q, want %q", r.Execute, tt.wantCmd)
			}
			if diff := cmp.Diff(decodeAny(t, tt.wantArgs), decodeAny(t, string(r.Arguments))); diff != "" {
				t.Errorf("arguments (-want +got):\n%s", diff)
			}
			res := <-got
			if res.Err != nil {
				t.Fatalf("call: %v", res.Err)
			}
			if diff := cmp.Diff(tt.want, res.Value); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHelpersBadInput: bad arguments fail with a clear error and send
// nothing.
func TestHelpersBadInput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tests := []struct {
		name string
		call func(ctx context.Context, c *qmp.Client) error
		want string
	}{
		{"GetFD empty name", func(ctx context.Context, c *qmp.Client) error { return c.GetFD(ctx, "", w) }, "qmp: getfd: empty fd name"},
		{"GetFD digit", func(ctx context.Context, c *qmp.Client) error { return c.GetFD(ctx, "0fd", w) }, `qmp: getfd: fd name "0fd" starts with a digit`},
		{"GetFD nil file", func(ctx context.Context, c *qmp.Client) error { return c.GetFD(ctx, "fd", nil) }, `qmp: getfd: nil file for fd name "fd"`},
		{"GetFD closed file", func(ctx context.Context, c *qmp.Client) error {
			f, _ := os.Open(os.DevNull)
			f.Close()
			return c.GetFD(ctx, "fd", f)
		}, `qmp: getfd: file "/dev/null": use of closed file`},
		{"Execute nil file", func(ctx context.Context, c *qmp.Client) error {
			_, err := c.Execute(ctx, "getfd", map[string]string{"fdname": "x"}, w, nil)
			return err
		}, `qmp: getfd: file 1 is nil`},
		{"CloseFD empty", func(ctx context.Context, c *qmp.Client) error { return c.CloseFD(ctx, "") }, "qmp: closefd: empty fd name"},
		{"NetdevAdd nil", func(ctx context.Context, c *qmp.Client) error { return c.NetdevAdd(ctx, nil) }, `qmp: netdev_add: nil arguments`},
		{"NetdevAdd nil map", func(ctx context.Context, c *qmp.Client) error { return c.NetdevAdd(ctx, map[string]any(nil)) }, `qmp: netdev_add: arguments must encode as a JSON object, got null`},
		{"NetdevAdd no type", func(ctx context.Context, c *qmp.Client) error {
			return c.NetdevAdd(ctx, map[string]any{"id": "t0"})
		}, `qmp: netdev_add: arguments lack "type"`},
		{"NetdevAdd no id", func(ctx context.Context, c *qmp.Client) error {
			return c.NetdevAdd(ctx, map[string]any{"type": "tap"})
		}, `qmp: netdev_add: arguments lack "id"`},
		{"NetdevAdd numeric id", func(ctx context.Context, c *qmp.Client) error {
			return c.NetdevAdd(ctx, map[string]any{"type": "tap", "id": 3})
		}, `qmp: netdev_add: argument "id" must be a non-empty string, got 3`},
		{"NetdevAdd empty id", func(ctx context.Context, c *qmp.Client) error {
			return c.NetdevAdd(ctx, map[string]any{"type": "tap", "id": ""})
		}, `qmp: netdev_add: argument "id" must be a non-empty string, got ""`},
		{"NetdevAdd array", func(ctx context.Context, c *qmp.Client) error {
			return c.NetdevAdd(ctx, []string{"tap"})
		}, `qmp: netdev_add: arguments must encode as a JSON object`},
		{"NetdevDel empty", func(ctx context.Context, c *qmp.Client) error { return c.NetdevDel(ctx, "") }, "qmp: netdev_del: empty netdev id"},
		{"SetLink empty", func(ctx context.Context, c *qmp.Client) error { return c.SetLink(ctx, "", true) }, "qmp: set_link: empty net client name"},
		{"DeviceAdd no driver", func(ctx context.Context, c *qmp.Client) error {
			return c.DeviceAdd(ctx, map[string]any{"id": "net1"})
		}, `qmp: device_add: arguments lack "driver"`},
		{"DeviceDel empty", func(ctx context.Context, c *qmp.Client) error { return c.DeviceDel(ctx, "") }, "qmp: device_del: empty device id"},
		{"QOMGet empty", func(ctx context.Context, c *qmp.Client) error {
			_, err := c.QOMGet(ctx, "/machine", "")
			return err
		}, `qmp: qom-get: empty path or property ("/machine", "")`},
		{"QOMSet empty", func(ctx context.Context, c *qmp.Client) error { return c.QOMSet(ctx, "", "x", 1) }, `qmp: qom-set: empty path or property`},
		{"QOMList empty", func(ctx context.Context, c *qmp.Client) error {
			_, err := c.QOMList(ctx, "")
			return err
		}, "qmp: qom-list: empty path"},
		{"HMP empty", func(ctx context.Context, c *qmp.Client) error {
			_, err := c.HMP(ctx, "")
			return err
		}, "qmp: human-monitor-command: empty command line"},
		{"AnnounceSelf negative", func(ctx context.Context, c *qmp.Client) error {
			return c.AnnounceSelf(ctx, &qmp.AnnounceParams{Rounds: -1})
		}, "qmp: announce-self: negative announce parameter"},
	}
	first := make(chan string, 1)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		r, _ := fc.recv()
		first <- r.Execute
		fc.reply(r, "{}")
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(ctxTimeout(t), c)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want error starting %q", err, tt.want)
			}
		})
	}
	if _, err := c.Execute(ctxTimeout(t), "marker", nil); err != nil {
		t.Fatal(err)
	}
	if got := <-first; got != "marker" {
		t.Errorf("server first saw %q, want \"marker\": a rejected call sent something", got)
	}
	// The caller's pipe end is untouched: it still works.
	if _, err := w.Write([]byte("x")); err != nil {
		t.Errorf("caller's file damaged: %v", err)
	}
}

// TestExecuteFiles: the descriptor arrives in the same recvmsg that ends
// with the getfd line, and it is a working copy of the caller's file.
func TestExecuteFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	type got struct {
		req  request
		echo error
	}
	gotc := make(chan got, 1)
	path := startFake(t, func(fc *fakeConn) {
		fc.handshake()
		// Unrelated commands before and after must not carry it.
		before := fc.mustRecv("query-status")
		fc.reply(before, "{}")
		req := fc.mustRecv("getfd")
		if len(before.FDs) != 0 {
			t.Errorf("fake: query-status carried fds %v", before.FDs)
		}
		var werr error
		if len(req.FDs) == 1 {
			f := os.NewFile(uintptr(req.FDs[0]), "received")
			_, werr = f.Write([]byte("through QEMU's copy"))
			f.Close()
		} else {
			werr = fmt.Errorf("getfd carried %d fds, want 1", len(req.FDs))
		}
		gotc <- got{req, werr}
		fc.reply(req, "{}")
		after := fc.mustRecv("query-status")
		if len(after.FDs) != 0 {
			t.Errorf("fake: query-status after getfd carried fds %v", after.FDs)
		}
		fc.reply(after, "{}")
		fc.waitHangup()
	})
	c := dial(t, path, nil)
	ctx := ctxTimeout(t)
	if _, err := c.QueryStatus(ctx); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.GetFD(ctx, "pipe0", w) }()
	g := <-gotc
	if err := <-errc; err != nil {
		t.Fatalf("GetFD: %v", err)
	}
	if diff := cmp.Diff(`{"fdname":"pipe0"}`, string(g.req.Arguments)); diff != "" {
		t.Errorf("getfd arguments (-want +got):\n%s", diff)
	}
	if g.echo != nil {
		t.Errorf("write through the received fd: %v", g.echo)
	}
	if _, err := c.QueryStatus(ctx); err != nil {
		t.Fatal(err)
	}
	// Once the caller closes its copy, and the fake its own, the pipe
	// reaches EOF: nothing else (no duplicate) keeps it open.
	w.Close()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "through QEMU's copy" {
		t.Errorf("pipe read %q, %v; want the text written through the passed fd", b, err)
	}
}
