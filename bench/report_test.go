package bench

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	ms := time.Millisecond
	s := samples{5 * ms, 1 * ms, 3 * ms, 2 * ms, 4 * ms}
	tests := []struct {
		p    float64
		want time.Duration
	}{{50, 3 * ms}, {99, 5 * ms}, {0, 1 * ms}, {20, 1 * ms}, {21, 2 * ms}, {100, 5 * ms}}
	for _, tt := range tests {
		if got := s.pct(tt.p); got != tt.want {
			t.Errorf("pct(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := (samples{}).pct(50); got != 0 {
		t.Errorf("pct of no samples = %v, want 0", got)
	}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		s    samples
		want time.Duration
	}{
		{nil, 0},
		{samples{3 * ms}, 3 * ms},
		{samples{5 * ms, 1 * ms, 3 * ms}, 3 * ms},
		{samples{4 * ms, 1 * ms, 3 * ms, 2 * ms}, 2500 * time.Microsecond},
		{samples{448 * ms, 814 * ms}, 631 * ms},
		{samples{1, 2}, 1}, // nanoseconds: the mean, truncated
	}
	for _, tt := range tests {
		if got := tt.s.median(); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.s, got, tt.want)
		}
		if got := tt.s.pct(50); got != tt.want {
			t.Errorf("pct(50) of %v = %v, want the median %v", tt.s, got, tt.want)
		}
	}
}

func TestFmtDur(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{730 * time.Microsecond, "730 µs"},
		{4400 * time.Microsecond, "4.40 ms"},
		{17600 * time.Microsecond, "17.6 ms"},
		{131 * time.Millisecond, "131 ms"},
		{1500 * time.Millisecond, "1.50 s"},
	}
	for _, tt := range tests {
		if got := fmtDur(tt.d); got != tt.want {
			t.Errorf("fmtDur(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestStepRecorder feeds the recorder the records nicplug's executor logs
// and checks the step names and the link-down window.
func TestStepRecorder(t *testing.T) {
	rec := &stepRecorder{}
	log := slog.New(rec)
	t0 := time.Now()
	steps := []struct {
		phase, action string
		at            time.Duration
	}{
		{"prepare", `netdev_add {"type":"tap","id":"x","fd":"y"}`, 1},
		{"down", `set_link {"name":"net0","up":false}`, 2},
		{"detach", `netdev_del {"id":"a.hp"}`, 3},
		{"attach", `netdev_add {"type":"hubport","id":"x.hp","hubid":0,"netdev":"x"}`, 4},
		{"up", `set_link {"name":"net0","up":true}`, 7},
		{"finish", "delete-link np123", 8},
	}
	for _, s := range steps {
		r := slog.NewRecord(t0.Add(s.at*time.Millisecond), slog.LevelDebug, "nicplug: step", 0)
		r.AddAttrs(slog.String("phase", s.phase), slog.String("action", s.action), slog.Duration("elapsed", time.Millisecond))
		rec.Handle(context.Background(), r)
	}
	log.Debug("something else")
	recs := rec.take()
	var names []string
	for _, r := range recs {
		names = append(names, r.name)
	}
	want := []string{"prepare netdev_add tap", "down set_link", "detach netdev_del", "attach netdev_add hubport", "up set_link", "finish delete-link"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("step names (-want +got):\n%s", diff)
	}
	if w, ok := linkDown(recs); !ok || w != 5*time.Millisecond {
		t.Errorf("linkDown = %v, %v; want 5ms, true", w, ok)
	}
	if _, ok := linkDown(recs[:3]); ok {
		t.Error("linkDown without an up step reported a window")
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("second take returned %d records, want 0", len(got))
	}
}

func TestRunUnknownPart(t *testing.T) {
	_, err := Run(context.Background(), &Options{Parts: []string{"plan", "bogus"}})
	if err == nil || !strings.HasPrefix(err.Error(), "bench: ") || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("Run with an unknown part: %v, want an error naming it", err)
	}
}

func TestWriteTable(t *testing.T) {
	r := &Report{Machine: Machine{CPUs: 2, CPU: "cpu", Kernel: "k", QEMU: "q", Accel: "TCG", Go: "go"},
		Rows: []Row{{Part: "1 plan", Name: "x", N: 3, Value: "1 ns/op"}}}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "machine: 2 CPUs (cpu), kernel k, q (TCG), go; run took 0s\n\n" +
		"| part   | measurement | n  | nicplug | baseline | ratio | note |\n" +
		"|---     |---          |--- |---      |---       |---    |---   |\n" +
		"| 1 plan | x           | 3  | 1 ns/op | -        | -     |      |\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}
