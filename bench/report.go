package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one line of the table: a measurement of nicplug and, where there
// is one, of the baseline it is compared with.
type Row struct {
	// Part is the measurement group ("plan", "qmp", "apply", …).
	Part string
	// Name says what was measured.
	Name string
	// N is the number of samples (iterations, VMs, runs).
	N int
	// Value is nicplug's figure, formatted.
	Value string
	// Baseline is the alternative's figure, "" when there is none.
	Baseline string
	// Ratio is Value over Baseline ("" when there is no baseline).
	Ratio string
	// Note explains the row or why it was not measured.
	Note string
}

// Machine describes where the figures were taken.
type Machine struct {
	CPUs   int
	CPU    string
	Kernel string
	QEMU   string
	Accel  string
	Go     string
}

// Report is what Run measured.
type Report struct {
	Machine Machine
	Rows    []Row
	// Leaks lists resources of this process (fds, goroutines) that did not
	// come back to their baseline after a part; empty when none leaked.
	Leaks []string
	// Elapsed is the wall-clock time of the run.
	Elapsed time.Duration
}

func (r *Report) add(row Row) { r.Rows = append(r.Rows, row) }

// WriteTable writes the machine line and the table of rows, as Markdown.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "machine: %d CPUs (%s), kernel %s, %s (%s), %s; run took %s\n\n",
		m.CPUs, m.CPU, m.Kernel, m.QEMU, m.Accel, m.Go, r.Elapsed.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| part\t| measurement\t| n\t| nicplug\t| baseline\t| ratio\t| note\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, row := range r.Rows {
		n := ""
		if row.N > 0 {
			n = fmt.Sprint(row.N)
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t|\n",
			row.Part, row.Name, n, dash(row.Value), dash(row.Baseline), dash(row.Ratio), row.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Leaks) > 0 {
		_, err := fmt.Fprintf(w, "\nLEAKS: %s\n", strings.Join(r.Leaks, "; "))
		return err
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Find returns the first row of part whose name starts with prefix.
func (r *Report) Find(part, prefix string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Part == part && strings.HasPrefix(row.Name, prefix) {
			return row, true
		}
	}
	return Row{}, false
}

// samples is a set of durations.
type samples []time.Duration

// pct returns the p-th percentile (nearest rank; p50 is the median, see
// [samples.median]), 0 when empty.
func (s samples) pct(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	if p == 50 {
		return s.median()
	}
	c := slices.Clone(s)
	slices.Sort(c)
	i := int(math.Ceil(p/100*float64(len(c)))) - 1
	return c[max(i, 0)]
}

// median returns the middle sample, or for an even number of samples the
// mean of the two middle ones; 0 when empty.
func (s samples) median() time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return c[n/2-1] + (c[n/2]-c[n/2-1])/2
}

// fmtDur prints d in ms (or µs below 1 ms) with 3 significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

// p50p99 formats the median and 99th percentile of s.
func (s samples) p50p99() string {
	return fmtDur(s.pct(50)) + " / " + fmtDur(s.pct(99))
}

// ratio formats a/b.
func ratio(a, b time.Duration) string {
	if b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}
