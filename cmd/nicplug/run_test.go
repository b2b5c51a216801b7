package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden")

// runCmd runs the program in-process.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// checkOneLine checks that stderr is one "nicplug: " line.
func checkOneLine(t *testing.T, stderr string) {
	t.Helper()
	if !strings.HasPrefix(stderr, "nicplug: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one nicplug: line: %q", stderr)
	}
}

func TestRunUsage(t *testing.T) {
	const td = "testdata/"
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring of stdout
		stderr   string // substring of the one stderr line ("" = stderr empty)
		fullHelp bool   // stderr carries the whole usage, not one line
	}{
		{name: "no args", args: nil, code: 2, fullHelp: true},
		{name: "help", args: []string{"help"}, code: 0, stdout: "nicplug update"},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: "Exit status"},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: "nicplug show"},
		{name: "help cmd", args: []string{"help", "plan"}, code: 0, stdout: "Usage: nicplug plan"},
		{name: "help unknown", args: []string{"help", "frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: `nicplug: unknown command "frobnicate"`},
		{name: "qemu-args -h", args: []string{"qemu-args", "-h"}, code: 0, stdout: "-shell"},
		{name: "start --help", args: []string{"start", "--help"}, code: 0, stdout: "-qmp socket"},
		{name: "plan -h", args: []string{"plan", "-h"}, code: 0, stdout: "-from file"},
		{name: "update -h", args: []string{"update", "-h"}, code: 0, stdout: "-save"},
		{name: "show -h", args: []string{"show", "-h"}, code: 0, stdout: "-domain file"},
		{name: "unknown flag", args: []string{"show", "--bogus"}, code: 2, stderr: "nicplug: show: flag provided but not defined: -bogus"},
		{name: "bad duration", args: []string{"show", "--qmp", "x", "--timeout", "soon"}, code: 2, stderr: `invalid value "soon" for flag -timeout`},
		{name: "zero timeout", args: []string{"show", "--qmp", "x", "--timeout", "0s"}, code: 2, stderr: "--timeout must be positive"},
		{name: "negative hold", args: []string{"plan", "--from", td + "domain.xml", "--carrier-hold", "-1s", td + "iface-user.xml"}, code: 2, stderr: "--carrier-hold must not be negative"},
		{name: "qemu-args no file", args: []string{"qemu-args"}, code: 2, stderr: "nicplug: qemu-args: missing arguments"},
		{name: "qemu-args two files", args: []string{"qemu-args", td + "domain.xml", "x.xml"}, code: 2, stderr: `unexpected argument "x.xml"`},
		{name: "qemu-args missing file", args: []string{"qemu-args", td + "nope.xml"}, code: 2, stderr: "open testdata/nope.xml: no such file or directory"},
		{name: "qemu-args bad version", args: []string{"qemu-args", "--qemu-version", "ten", td + "domain.xml"}, code: 2, stderr: `nicplug: qemu-args: --qemu-version: domain: QEMU version "ten": want MAJOR.MINOR[.MICRO]`},
		{name: "qemu-args 10.0", args: []string{"qemu-args", "--qemu-version", "QEMU emulator version 10.0.2 (Debian)", td + "domain.xml"}, code: 0, stdout: `"host_uso":false`},
		{name: "qemu-args bad xml", args: []string{"qemu-args", td + "bad.xml"}, code: 2, stderr: "testdata/bad.xml: domain: malformed XML"},
		{name: "qemu-args interface not domain", args: []string{"qemu-args", td + "iface-user.xml"}, code: 2, stderr: "testdata/iface-user.xml: domain:"},
		{name: "start no qmp", args: []string{"start", td + "domain.xml"}, code: 2, stderr: "nicplug: start: --qmp is required"},
		{name: "start missing domain file", args: []string{"start", "--qmp", "/nonexistent.sock", td + "nope.xml"}, code: 2, stderr: "nope.xml: no such file"},
		{name: "start unreachable qmp", args: []string{"start", "--qmp", "/nonexistent/qmp.sock", td + "domain.xml"}, code: 1, stderr: "/nonexistent/qmp.sock"},
		{name: "plan neither", args: []string{"plan", td + "iface-user.xml"}, code: 2, stderr: "need --qmp, or --from"},
		{name: "plan qmp without domain bad iface", args: []string{"plan", "--qmp", "/nonexistent.sock", td + "bad.xml"}, code: 2, stderr: "testdata/bad.xml: domain: malformed XML"},
		{name: "plan qmp without domain unreachable", args: []string{"plan", "--qmp", "/nonexistent.sock", td + "iface-user.xml"}, code: 1, stderr: "/nonexistent.sock"},
		{name: "plan start without domain", args: []string{"plan", "--qmp", "x", "--start"}, code: 2, stderr: "--start needs --qmp and --domain"},
		{name: "plan name with domain", args: []string{"plan", "--qmp", "x", "--domain", td + "domain.xml", "--name", "y", td + "iface-user.xml"}, code: 2, stderr: "--name is the domain's <name> with --domain"},
		{name: "plan both", args: []string{"plan", "--qmp", "x", "--from", td + "domain.xml", td + "iface-user.xml"}, code: 2, stderr: "--from excludes --qmp"},
		{name: "plan no iface", args: []string{"plan", "--from", td + "domain.xml"}, code: 2, stderr: "missing IFACE.xml"},
		{name: "plan start with iface", args: []string{"plan", "--qmp", "x", "--domain", td + "domain.xml", "--start", td + "iface-user.xml"}, code: 2, stderr: "--start takes no IFACE.xml"},
		{name: "plan from start", args: []string{"plan", "--from", td + "domain.xml", "--start"}, code: 2, stderr: "--start needs --qmp"},
		{name: "plan from missing iface", args: []string{"plan", "--from", td + "domain.xml", td + "nope.xml"}, code: 2, stderr: "open testdata/nope.xml"},
		{name: "plan from bad root", args: []string{"plan", "--from", td + "network.xml", td + "iface-user.xml"}, code: 2, stderr: "testdata/network.xml: root element is <network>, want <domain> or <interface>"},
		{name: "plan from directory", args: []string{"plan", "--from", td + "golden", td + "iface-user.xml"}, code: 2, stderr: "testdata/golden"},
		{name: "update name with domain", args: []string{"update", "--qmp", "x", "--domain", td + "domain.xml", "--name", "y", td + "iface-user.xml"}, code: 2, stderr: "--name is the domain's <name> with --domain"},
		{name: "update no domain unsupported type", args: []string{"update", "--qmp", "/nonexistent.sock", td + "iface-vhostuser.xml"}, code: 2, stderr: "testdata/iface-vhostuser.xml: domain: "},
		{name: "update no iface", args: []string{"update", "--qmp", "x", "--domain", td + "domain.xml"}, code: 2, stderr: "missing arguments"},
		{name: "update bad iface", args: []string{"update", "--qmp", "/nonexistent.sock", "--domain", td + "domain.xml", td + "bad.xml"}, code: 2, stderr: "testdata/bad.xml: domain: malformed XML"},
		{name: "update refused model", args: []string{"update", "--qmp", "/nonexistent.sock", "--domain", td + "domain.xml", td + "iface-model-e1000.xml"}, code: 2,
			stderr: "nicplug: update: testdata/iface-model-e1000.xml: domain: cannot modify network device model from virtio to e1000"},
		{name: "plan from no such NIC", args: []string{"plan", "--from", td + "domain.xml", td + "iface-unknown-mac.xml"}, code: 2, stderr: "testdata/iface-unknown-mac.xml: domain: "},
		{name: "update no such NIC", args: []string{"update", "--qmp", "/nonexistent.sock", "--domain", td + "domain.xml", td + "iface-unknown-mac.xml"}, code: 2, stderr: "52:54:00:99:99:99"},
		{name: "update unsupported type", args: []string{"update", "--qmp", "/nonexistent.sock", "--domain", td + "domain.xml", td + "iface-vhostuser.xml"}, code: 2, stderr: "vhostuser"},
		{name: "show extra arg", args: []string{"show", "--qmp", "x", "extra"}, code: 2, stderr: `unexpected argument "extra"`},
		{name: "show xml with domain", args: []string{"show", "--qmp", "x", "--domain", td + "domain.xml", "--xml"}, code: 2, stderr: "--name and --xml are for use without --domain"},
		{name: "show xml and json", args: []string{"show", "--qmp", "x", "--xml", "--json"}, code: 2, stderr: "--xml excludes --json"},
		{name: "show bad domain", args: []string{"show", "--qmp", "x", "--domain", td + "bad.xml"}, code: 2, stderr: "testdata/bad.xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, stdout)
			}
			switch {
			case tt.fullHelp:
				if !strings.Contains(stderr, "Usage:") {
					t.Errorf("stderr lacks the usage:\n%s", stderr)
				}
			case tt.stderr == "":
				if stderr != "" {
					t.Errorf("stderr: %q, want none", stderr)
				}
			default:
				checkOneLine(t, stderr)
				if !strings.Contains(stderr, tt.stderr) {
					t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
				}
			}
			if tt.code != 0 && tt.code != 1 && stdout != "" {
				t.Errorf("stdout on bad usage: %q", stdout)
			}
		})
	}
}

// TestGolden checks the output of the commands that need no QEMU:
// qemu-args and plan --from.
func TestGolden(t *testing.T) {
	const td = "testdata/"
	tests := []struct {
		name string
		args []string
	}{
		{"qemu-args", []string{"qemu-args", "--qemu-version=any", td + "domain.xml"}},
		{"qemu-args-shell", []string{"qemu-args", "--qemu-version=any", "--shell", td + "domain.xml"}},
		{"plan-from-plug-user", []string{"plan", "--from", td + "domain.xml", td + "iface-user.xml"}},
		{"plan-from-plug-user-json", []string{"plan", "--from", td + "domain.xml", td + "iface-user.xml", "--json"}},
		{"plan-from-noop", []string{"plan", "--from", td + "domain.xml", td + "iface-none.xml"}},
		{"plan-from-link-down", []string{"plan", "--from", td + "domain.xml", td + "iface-lan-down.xml"}},
		{"plan-from-switch-user-udp", []string{"plan", "--from", td + "domain.xml", "--announce", td + "iface-lan-udp.xml"}},
		{"plan-from-switch-user-udp-no-hold", []string{"plan", "--from", td + "domain.xml", "--carrier-hold", "0", td + "iface-lan-udp.xml"}},
		{"plan-from-interface-switch-direct-bridge", []string{"plan", "--from", td + "old-iface-direct.xml", "--name", "web1", "--carrier-hold", "6s", td + "iface-bridge.xml"}},
		{"plan-from-interface-unplug-direct-json", []string{"plan", "--json", "--from", td + "old-iface-direct.xml", td + "iface-none.xml"}},
		{"plan-from-refused-model", []string{"plan", "--from", td + "domain.xml", td + "iface-model-e1000.xml"}},
		{"plan-from-bad-xml", []string{"plan", "--from", td + "domain.xml", td + "bad.xml"}},
		{"plan-from-unsupported", []string{"plan", "--from", td + "domain.xml", td + "iface-vhostuser.xml"}},
		{"plan-from-tap-bridge-direct", []string{"plan", "--from", td + "old-iface-tap-bridge.xml", "--name", "web1", td + "iface-tap-direct.xml"}},
		{"plan-from-tap-bridge-direct-json", []string{"plan", "--json", "--from", td + "old-iface-tap-bridge.xml", "--name", "web1", "--carrier-hold", "0", td + "iface-tap-direct.xml"}},
		{"plan-from-tap-driver-dropped", []string{"plan", "--from", td + "old-iface-tap-bridge.xml", td + "iface-bridge.xml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			got := fmt.Sprintf("$ nicplug %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", strings.Join(tt.args, " "), code, stdout, stderr)
			file := filepath.Join("testdata", "golden", tt.name+".golden")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", file, diff)
			}
		})
	}
}

// TestPlanJSONMatchesText checks that --json and the transcript describe
// the same plan.
func TestPlanJSONMatchesText(t *testing.T) {
	args := []string{"plan", "--from", "testdata/domain.xml", "testdata/iface-lan-udp.xml"}
	_, text, _ := runCmd(t, args...)
	code, js, stderr := runCmd(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkPlanPair(t, text, js)
}

// checkPlanPair checks that a plan's JSON and text forms agree.
func checkPlanPair(t *testing.T, text, js string) nicplug.Plan {
	t.Helper()
	var p nicplug.Plan
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, js)
	}
	if want, got := p.String(), text; want != got {
		t.Errorf("text plan differs from the JSON one rendered:\n%s", cmp.Diff(want, got))
	}
	if p.Version != nicplug.PlanVersion {
		t.Errorf("version %d, want %d", p.Version, nicplug.PlanVersion)
	}
	return p
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"usage", usageErrorf("bad"), exitUsage},
		{"wrapped usage", fmt.Errorf("x: %w", usageErrorf("bad")), exitUsage},
		{"rolled back", &nicplug.StepError{Step: 2, Name: "attach", Err: errors.New("boom")}, exitFailed},
		{"rollback failed", &nicplug.StepError{Step: 2, Name: "attach", Err: errors.New("boom"), UndoErr: errors.New("undo")}, exitPartial},
		{"wrapped rollback failed", fmt.Errorf("x: %w", &nicplug.StepError{Step: 2, Name: "attach", Err: errors.New("boom"), UndoErr: errors.New("undo")}), exitPartial},
		{"inconsistent", fmt.Errorf("x: %w", nicplug.ErrInconsistent), exitPartial},
		{"input", &nicplug.InputError{Op: "update", Err: &domain.ChangeError{Field: domain.FieldModel, Old: "virtio", New: "e1000"}}, exitUsage},
		{"input in file", inFile("x.xml", &nicplug.InputError{Op: "attach", Err: errors.New("domain: bad")}), exitUsage},
		{"bad input", fmt.Errorf("x: %w", nicplug.ErrBadInput), exitUsage},
		// Domain errors the library did not classify are not the CLI's
		// business to reclassify.
		{"bare domain error", domain.ErrNoDevice, exitFailed},
		{"runtime", errors.New("qmp: dial: refused"), exitFailed},
		{"deadline", context.DeadlineExceeded, exitFailed},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		cmd  string
		err  error
		want string
	}{
		{"update", errors.New("nicplug: update: domain: cannot modify"), "domain: cannot modify"},
		{"update", errors.New("nicplug: step 3 (attach): boom\nundo failed"), "step 3 (attach): boom; undo failed"},
		{"start", errors.Join(errors.New("a"), errors.New("b")), "a; b"},
		{"show", fmt.Errorf("qmp: dial: %w", context.DeadlineExceeded), "qmp: dial: context deadline exceeded (raise --timeout)"},
		{"show", fmt.Errorf("qmp: greeting: %w", context.DeadlineExceeded), "qmp: greeting: context deadline exceeded (QEMU serves one QMP client at a time: is another one connected?)"},
	}
	for _, tt := range tests {
		if got := oneLine(tt.cmd, tt.err); got != tt.want {
			t.Errorf("oneLine(%q, %q) = %q, want %q", tt.cmd, tt.err, got, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-device", "-device"},
		{"", "''"},
		{`{"a":"b c"}`, `'{"a":"b c"}'`},
		{"it's", `'it'\''s'`},
		{"a/b,c=d:e", "a/b,c=d:e"},
		{"$(reboot)", "'$(reboot)'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPlanFromMatchesPlanner checks plan --from against the library's
// planner for a plain plug, the case whose live state is unambiguous.
func TestPlanFromMatchesPlanner(t *testing.T) {
	d, _, err := readDomain(context.Background(), "testdata/domain.xml", nil)
	if err != nil {
		t.Fatal(err)
	}
	old := d.NICs[0]
	ifXML, err := os.ReadFile("testdata/iface-user.xml")
	if err != nil {
		t.Fatal(err)
	}
	upd, err := domain.ParseInterface(ifXML, nil)
	if err != nil {
		t.Fatal(err)
	}
	next, err := d.WithUpdate(upd)
	if err != nil {
		t.Fatal(err)
	}
	pl := nicplug.Planner{VM: "cli"}
	live := nicplug.NICState{Device: "net0", MAC: old.MAC(), Peer: old.HubPortID(), Hub: 0}
	want, err := pl.Update(live, nicplug.WiringOf(old), nicplug.WiringOf(next.NICs[0]))
	if err != nil {
		t.Fatal(err)
	}
	_, got, _ := runCmd(t, "plan", "--from", "testdata/domain.xml", "testdata/iface-user.xml")
	if diff := cmp.Diff(want.String(), got); diff != "" {
		t.Errorf("plan --from differs from Planner.Update (-want +got):\n%s", diff)
	}
}

// TestErrorLineBounded (issue 13): the cut applies to the whole error
// line, "nicplug: CMD: " and the hint after the message included: at
// most maxErrorLine bytes with its newline, cut with "…" before the hint.
func TestErrorLineBounded(t *testing.T) {
	long := strings.Repeat("é", 3000) // 2-byte runes: the cut keeps UTF-8 valid
	for _, err := range []error{
		fmt.Errorf("qmp: query-status: %s: %w", long, context.DeadlineExceeded),
		errors.New(long),
		fmt.Errorf("%s: %w", strings.Repeat("x\n", 3000), nicplug.ErrBadInput),
	} {
		var stderr bytes.Buffer
		printError(&stderr, "update", err)
		line := stderr.String()
		if len(line) > maxErrorLine {
			t.Errorf("error line of %d bytes, the limit is %d", len(line), maxErrorLine)
		}
		checkOneLine(t, line)
		if !strings.HasPrefix(line, "nicplug: update: ") || !strings.Contains(line, "…") || !utf8.ValidString(line) {
			t.Errorf("error line %.100q… not cut right", line)
		}
		if errors.Is(err, context.DeadlineExceeded) && !strings.HasSuffix(line, "… (raise --timeout)\n") {
			t.Errorf("error line ends %q, want the hint after the cut", line[len(line)-40:])
		}
	}
	var stderr bytes.Buffer
	printError(&stderr, "update", errors.New("short"))
	if got := stderr.String(); got != "nicplug: update: short\n" {
		t.Errorf("short error line %q", got)
	}
}
