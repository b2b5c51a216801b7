package qmp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

// startQEMU starts a guest-less QEMU and connects a client to it.
func startQEMU(t *testing.T, extra ...string) (*testenv.QEMU, *qmp.Client) {
	t.Helper()
	q := testenv.StartQEMU(t, extra...)
	return q, dial(t, q.Socket, nil)
}

func TestIntegrationGreeting(t *testing.T) {
	q, c := startQEMU(t)
	out, err := exec.Command(q.Cmd.Path, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	v := c.Version()
	if want := "QEMU emulator version " + v.String(); !strings.Contains(string(out), want) {
		t.Errorf("Version() = %+v; %q does not contain %q", v, out, want)
	}
	t.Logf("QEMU %v, package %q, capabilities %q", v, v.Package, c.Capabilities())
	if !v.AtLeast(4, 0, 0) {
		t.Errorf("Version() = %v, nicplug needs QEMU >= 4.0", v)
	}
	if caps := c.Capabilities(); !strings.Contains(strings.Join(caps, ","), "oob") {
		t.Errorf("Capabilities() = %q, QEMU >= 3.0 offers oob", caps)
	}
	st, err := c.QueryStatus(ctxTimeout(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := (qmp.Status{Status: "prelaunch", Running: false}); st != want {
		t.Errorf("QueryStatus = %+v, want %+v", st, want)
	}
}

func TestIntegrationLargeReply(t *testing.T) {
	_, c := startQEMU(t)
	raw, err := c.Execute(ctxTimeout(t), "query-qmp-schema", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) <= 64<<10 {
		t.Errorf("query-qmp-schema returned %d bytes, expected more than 64 KiB", len(raw))
	}
	var schema []struct {
		Name     string `json:"name"`
		MetaType string `json:"meta-type"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("schema: %v", err)
	}
	if len(schema) < 100 || schema[0].Name == "" {
		t.Errorf("schema has %d entries, first %+v", len(schema), schema[0])
	}
	t.Logf("query-qmp-schema: %d bytes, %d entries", len(raw), len(schema))
	// The client is still in sync.
	if _, err := c.QueryStatus(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationConcurrent(t *testing.T) {
	const goroutines, perG = 8, 500
	_, c := startQEMU(t)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				// Alternate commands with different replies to catch any
				// mix-up between callers.
				if (g+i)%2 == 0 {
					st, err := c.QueryStatus(ctxTimeout(t))
					if err != nil || st.Status != "prelaunch" {
						t.Errorf("goroutine %d call %d: QueryStatus = %+v, %v", g, i, st, err)
						return
					}
					continue
				}
				raw, err := c.QOMGet(ctxTimeout(t), "/machine", "type")
				if err != nil || string(raw) != `"pc-q35-`+fmt.Sprint(c.Version().Major)+`.`+fmt.Sprint(c.Version().Minor)+`-machine"` {
					t.Errorf("goroutine %d call %d: QOMGet = %s, %v", g, i, raw, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestIntegrationStopped: with QEMU frozen by SIGSTOP, a call ends with its
// context; after SIGCONT the late reply is discarded and the client works.
func TestIntegrationStopped(t *testing.T) {
	q, c := startQEMU(t)
	if err := q.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	cont := sync.OnceFunc(func() { q.Cmd.Process.Signal(syscall.SIGCONT) })
	defer cont()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.QueryStatus(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("QueryStatus on a stopped QEMU: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("QueryStatus on a stopped QEMU ignored its 500ms deadline")
	}
	cont()
	raw, err := c.QOMGet(ctxTimeout(t), "/machine", "type")
	if err != nil || !strings.Contains(string(raw), "q35") {
		t.Errorf("after SIGCONT: QOMGet = %s, %v; want the machine type", raw, err)
	}
	if _, err := c.QueryStatus(ctxTimeout(t)); err != nil {
		t.Errorf("after SIGCONT: %v", err)
	}
}

// TestIntegrationKilled: QEMU dies while calls are pending: they fail fast
// with ErrClosed, later calls too, and no goroutine stays behind.
func TestIntegrationKilled(t *testing.T) {
	q := testenv.StartQEMU(t)
	checkGoroutines(t)
	c := dial(t, q.Socket, nil)
	sub := c.Subscribe(t.Context(), 0)
	w := c.Watch(qmp.EventName("SHUTDOWN"))
	if err := q.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.QueryStatus(context.Background()) // no deadline: only the close can end it
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the calls get pending (not required for correctness)
	q.Kill()
	for range n {
		select {
		case err := <-errs:
			wantClosed(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("a pending call did not fail after QEMU died")
		}
	}
	<-c.Done()
	_, err := c.QueryStatus(context.Background())
	wantClosed(t, err)
	if !errors.Is(c.Err(), io.EOF) && !errors.Is(c.Err(), syscall.ECONNRESET) {
		t.Errorf("Err() = %v, want it to wrap io.EOF or ECONNRESET", c.Err())
	}
	_, err = w.Wait(ctxTimeout(t))
	wantClosed(t, err)
	if _, ok := <-sub.Events(); ok {
		t.Error("subscription still open after QEMU died")
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after QEMU died: %v", err)
	}
}

func TestIntegrationErrors(t *testing.T) {
	_, c := startQEMU(t)
	tests := []struct {
		name      string
		call      func(ctx context.Context) error
		wantClass string
		wantText  string
	}{
		{"netdev_del unknown", func(ctx context.Context) error { return c.NetdevDel(ctx, "nosuch") },
			"DeviceNotFound", "qmp: netdev_del: DeviceNotFound: Device 'nosuch' not found"},
		{"set_link unknown", func(ctx context.Context) error { return c.SetLink(ctx, "nosuch", true) },
			"DeviceNotFound", "qmp: set_link: DeviceNotFound: Device 'nosuch' not found"},
		{"device_del unknown", func(ctx context.Context) error { return c.DeviceDel(ctx, "nosuch") },
			"DeviceNotFound", "qmp: device_del: DeviceNotFound: Device 'nosuch' not found"},
		{"unknown command", func(ctx context.Context) error {
			_, err := c.Execute(ctx, "no-such-command", nil)
			return err
		}, "CommandNotFound", "qmp: no-such-command: CommandNotFound: The command no-such-command has not been found"},
		{"bad netdev type", func(ctx context.Context) error {
			return c.NetdevAdd(ctx, map[string]any{"type": "bogus", "id": "b0"})
		}, "GenericError", ""},
		{"netdev_add unknown fd name", func(ctx context.Context) error {
			return c.NetdevAdd(ctx, map[string]any{"type": "tap", "id": "b1", "fd": "nosuchfd"})
		}, "GenericError", ""},
		{"getfd without fd", func(ctx context.Context) error {
			_, err := c.Execute(ctx, "getfd", map[string]string{"fdname": "nofile"})
			return err
		}, "GenericError", "qmp: getfd: GenericError: No file descriptor supplied via SCM_RIGHTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(ctxTimeout(t))
			var ce *qmp.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *qmp.CommandError", err)
			}
			if ce.Class != tt.wantClass {
				t.Errorf("class %q (%v), want %q", ce.Class, err, tt.wantClass)
			}
			if tt.wantText != "" && err.Error() != tt.wantText {
				t.Errorf("error %q, want %q", err, tt.wantText)
			}
		})
	}
	// Nothing was left behind by the failed netdev_adds.
	info, err := c.HMP(ctxTimeout(t), "info network")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(info, "b0") || strings.Contains(info, "b1") {
		t.Errorf("a failed netdev_add left a netdev:\n%s", info)
	}
}

// TestIntegrationEventsAndDevices drives real events: RESUME/STOP from
// cont/stop and DEVICE_DELETED from a USB device (no guest needed to
// unplug it), caught by watchers created before the commands.
func TestIntegrationEventsAndDevices(t *testing.T) {
	_, c := startQEMU(t, "-device", "qemu-xhci,id=xhci")
	ctx := ctxTimeout(t)
	sub := c.Subscribe(ctx, 0)

	resumed := c.Watch(qmp.EventName("RESUME"))
	if err := c.Cont(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := resumed.Wait(ctx); err != nil {
		t.Fatalf("RESUME: %v", err)
	}
	if st, err := c.QueryStatus(ctx); err != nil || !st.Running || st.Status != "running" {
		t.Errorf("QueryStatus after cont = %+v, %v", st, err)
	}
	stopped := c.Watch(qmp.EventName("STOP"))
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := stopped.Wait(ctx); err != nil {
		t.Fatalf("STOP: %v", err)
	}
	if st, err := c.QueryStatus(ctx); err != nil || st.Running || st.Status != "paused" {
		t.Errorf("QueryStatus after stop = %+v, %v", st, err)
	}

	if err := c.DeviceAdd(ctx, map[string]any{"driver": "usb-kbd", "id": "kbd0", "bus": "xhci.0"}); err != nil {
		t.Fatalf("DeviceAdd: %v", err)
	}
	props, err := c.QOMList(ctx, "/machine/peripheral")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range props {
		found = found || (p.Name == "kbd0" && p.Type == "child<usb-kbd>")
	}
	if !found {
		t.Errorf("qom-list /machine/peripheral lacks kbd0: %+v", props)
	}
	deleted := c.Watch(qmp.DeviceDeleted("kbd0"))
	defer deleted.Stop()
	if err := c.DeviceDel(ctx, "kbd0"); err != nil {
		t.Fatalf("DeviceDel: %v", err)
	}
	ev, err := deleted.Wait(ctx)
	if err != nil {
		t.Fatalf("DEVICE_DELETED: %v", err)
	}
	if ev.Time.IsZero() {
		t.Errorf("event %s has no timestamp", ev.Name)
	}
	if _, err := c.QOMGet(ctx, "/machine/peripheral/kbd0", "type"); !qmp.IsClass(err, "DeviceNotFound") {
		t.Errorf("qom-get of the deleted device: %v, want DeviceNotFound", err)
	}

	if err := c.AnnounceSelf(ctx, nil); err != nil {
		t.Errorf("AnnounceSelf: %v", err)
	}

	// The subscription saw the same events, in order.
	var names []string
	for _, ev := range drain(sub.Events()) {
		names = append(names, ev.Name)
	}
	if got, want := strings.Join(names, " "), "RESUME STOP DEVICE_DELETED"; !strings.Contains(got, want) {
		t.Errorf("subscription saw %q, want it to contain %q", got, want)
	}
}

// TestIntegrationMaxLine: with a line limit below query-qmp-schema's reply,
// real QEMU's reply closes the connection with ErrLineTooLong; the default
// limit takes it (TestIntegrationLargeReply).
func TestIntegrationMaxLine(t *testing.T) {
	q := testenv.StartQEMU(t)
	c := dial(t, q.Socket, &qmp.Config{MaxLine: 64 << 10})
	if _, err := c.Execute(ctxTimeout(t), "query-status", nil); err != nil {
		t.Fatalf("query-status: %v", err)
	}
	_, err := c.Execute(ctxTimeout(t), "query-qmp-schema", nil)
	if !errors.Is(err, qmp.ErrLineTooLong) || !errors.Is(err, qmp.ErrClosed) {
		t.Fatalf("query-qmp-schema with a 64 KiB limit: %v, want ErrLineTooLong", err)
	}
	if !strings.Contains(err.Error(), `monitor sent a line longer than 64 KiB (the limit, qmp.Config.MaxLine), starting "{\"return\": [{`) {
		t.Errorf("error: %v", err)
	}
}
