package qmp

import (
	"context"
	"fmt"
	"time"
)

// HMP runs a human monitor command through QMP (human-monitor-command) and
// returns its output, e.g. HMP(ctx, "info network").
func (c *Client) HMP(ctx context.Context, cmdline string) (string, error) {
	if cmdline == "" {
		return "", &OpError{Op: "human-monitor-command", Err: fmt.Errorf("empty command line")}
	}
	raw, err := c.Execute(ctx, "human-monitor-command", map[string]string{"command-line": cmdline})
	if err != nil {
		return "", err
	}
	var out string
	if err := DecodeReturn("human-monitor-command", raw, &out); err != nil {
		return "", err
	}
	return out, nil
}

// Cont resumes the guest's CPUs (QMP cont), e.g. after booting with -S.
func (c *Client) Cont(ctx context.Context) error {
	_, err := c.Execute(ctx, "cont", nil)
	return err
}

// Stop pauses the guest's CPUs (QMP stop).
func (c *Client) Stop(ctx context.Context) error {
	_, err := c.Execute(ctx, "stop", nil)
	return err
}

// Status is the reply of [Client.QueryStatus].
type Status struct {
	// Status is QEMU's run state: "prelaunch" (started with -S),
	// "running", "paused", "shutdown", "inmigrate", …
	Status string `json:"status"`
	// Running reports whether the guest's CPUs run.
	Running bool `json:"running"`
}

// QueryStatus returns the VM's run state (QMP query-status).
func (c *Client) QueryStatus(ctx context.Context) (Status, error) {
	raw, err := c.Execute(ctx, "query-status", nil)
	if err != nil {
		return Status{}, err
	}
	var s Status
	if err := DecodeReturn("query-status", raw, &s); err != nil {
		return Status{}, err
	}
	return s, nil
}

// AnnounceParams tunes [Client.AnnounceSelf]. A nil *AnnounceParams or a
// zero field means QEMU's migration defaults, shown per field.
type AnnounceParams struct {
	// Initial is the delay before the first round; zero means 50ms.
	Initial time.Duration
	// Max is the longest delay between rounds; zero means 550ms.
	Max time.Duration
	// Step is how much the delay grows each round; zero means 100ms.
	Step time.Duration
	// Rounds is the number of announcements; zero means 5.
	Rounds int
	// Interfaces limits the announcement to these NICs (device ids); nil
	// means all NICs.
	Interfaces []string
	// ID names this announcer so a later call with the same ID replaces it
	// instead of running alongside; empty means the anonymous announcer.
	ID string
}

// AnnounceSelf makes QEMU send gratuitous ARP/RARP for its NICs' MACs (QMP
// announce-self, QEMU ≥ 4.0) so switches learn a moved NIC's new path.
func (c *Client) AnnounceSelf(ctx context.Context, p *AnnounceParams) error {
	var q AnnounceParams
	if p != nil {
		q = *p
	}
	if q.Initial < 0 || q.Max < 0 || q.Step < 0 || q.Rounds < 0 {
		return &OpError{Op: "announce-self", Err: fmt.Errorf("negative announce parameter in %+v", q)}
	}
	ms := func(d, def time.Duration) int64 {
		if d == 0 {
			d = def
		}
		return d.Milliseconds()
	}
	rounds := q.Rounds
	if rounds == 0 {
		rounds = 5
	}
	args := struct {
		Initial    int64    `json:"initial"`
		Max        int64    `json:"max"`
		Rounds     int      `json:"rounds"`
		Step       int64    `json:"step"`
		Interfaces []string `json:"interfaces,omitempty"`
		ID         string   `json:"id,omitempty"`
	}{ms(q.Initial, 50*time.Millisecond), ms(q.Max, 550*time.Millisecond), rounds, ms(q.Step, 100*time.Millisecond), q.Interfaces, q.ID}
	_, err := c.Execute(ctx, "announce-self", args)
	return err
}
