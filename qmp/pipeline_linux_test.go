package qmp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/qmp"
)

// TestIntegrationPipelined: QEMU runs pipelined commands in order, each
// whatever the previous one returned, and the replies reach their own
// commands: a query sees the netdev the command before it added, a failing
// command in the middle does not stop the next one.
func TestIntegrationPipelined(t *testing.T) {
	_, c := startQEMU(t)
	info := qmp.Command{Name: "human-monitor-command", Args: map[string]any{"command-line": "info network"}}
	got := c.ExecutePipelined(ctxTimeout(t),
		qmp.Command{Name: "netdev_add", Args: map[string]any{"type": "user", "id": "pipe0"}},
		info,
		qmp.Command{Name: "netdev_del", Args: map[string]any{"id": "no-such-netdev"}},
		qmp.Command{Name: "netdev_del", Args: map[string]any{"id": "pipe0"}},
		info,
	)
	if len(got) != 5 {
		t.Fatalf("%d replies, want 5", len(got))
	}
	for _, i := range []int{0, 1, 3, 4} {
		if got[i].Err != nil {
			t.Errorf("command %d: %v", i, got[i].Err)
		}
	}
	var ce *qmp.CommandError
	if !errors.As(got[2].Err, &ce) || ce.Class != "GenericError" && ce.Class != "DeviceNotFound" {
		t.Errorf("netdev_del of a missing netdev: %v, want a QMP error", got[2].Err)
	}
	if !strings.Contains(string(got[1].Return), "pipe0") {
		t.Errorf("info network after netdev_add does not list pipe0: %s", got[1].Return)
	}
	if strings.Contains(string(got[4].Return), "pipe0") {
		t.Errorf("info network after netdev_del still lists pipe0: %s", got[4].Return)
	}
	if st, err := c.QueryStatus(ctxTimeout(t)); err != nil || st.Status != "prelaunch" {
		t.Errorf("query-status after the pipeline = %+v, %v", st, err)
	}
}
