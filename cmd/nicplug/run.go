package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// Exit statuses.
const (
	exitOK      = 0 // done
	exitFailed  = 1 // failed, nothing changed (apply rolled back)
	exitUsage   = 2 // bad usage or input (nicplug.ErrBadInput)
	exitPartial = 3 // inconsistent (nicplug.ErrInconsistent), or DOMAIN.xml could not be saved
)

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
}

// command is one subcommand.
type command struct {
	name     string
	synopsis string // arguments after the name
	summary  string // one line for `nicplug help`
	doc      string // what -h prints after the usage line
	run      func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"qemu-args", "[--shell] [--netns PATH] [--tap-user UID[:GID]] DOMAIN.xml", "print the NIC arguments for the QEMU command line", qemuArgsDoc, runQEMUArgs},
		{"start", "--qmp SOCK [flags] DOMAIN.xml", "attach boot backends, set initial link states, cont", startDoc, runStart},
		{"plan", "(--qmp SOCK [--domain DOMAIN.xml] | --from OLD.xml) [flags] IFACE.xml", "print the plan of an <interface> update without applying it", planDoc, runPlan},
		{"update", "--qmp SOCK [--domain DOMAIN.xml] [flags] IFACE.xml", "apply an <interface> update: plug, unplug, switch, link", updateDoc, runUpdate},
		{"show", "--qmp SOCK [--domain DOMAIN.xml] [flags]", "print each NIC's live wiring", showDoc, runShow},
		{"cleanup", "[--netns PATH] [--qmp SOCK] (DOMAIN.xml | --name NAME)", "delete the host devices of a VM whose QEMU has exited", cleanupDoc, runCleanup},
	}
}

// run is the whole program: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if name == "help" && len(rest) > 0 {
			c, ok := lookup(rest[0])
			if !ok {
				fmt.Fprintf(stderr, "nicplug: help: unknown command %q (see nicplug help)\n", rest[0])
				return exitUsage
			}
			return run(ctx, []string{c.name, "-h"}, stdout, stderr)
		}
		printUsage(stdout)
		return exitOK
	}
	c, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "nicplug: unknown command %q (see nicplug help)\n", name)
		return exitUsage
	}
	err := c.run(ctx, e, rest)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		return exitOK
	}
	printError(stderr, c.name, err)
	return exitCode(err)
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "nicplug boots QEMU NICs unplugged and plugs, unplugs or moves them live.\n\nUsage:\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  nicplug %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `  nicplug help [COMMAND]

Run 'nicplug COMMAND -h' for a command's flags.

Exit status:
  0  done
  1  failed and nothing changed: an apply failed and was rolled back, or
     QEMU could not be reached or read
  2  bad usage or input, nothing changed: flags, unreadable files, invalid
     XML, an update that matches no NIC or cannot happen live (model, MAC, …)
  3  inconsistent: an apply failed and its rollback failed too, or it was
     applied but left an fd in QEMU, or it was applied but DOMAIN.xml could
     not be saved, or it was interrupted twice. QEMU, the host and
     DOMAIN.xml may then not agree: check with 'nicplug show', fix
     DOMAIN.xml if needed, and apply the update again (plans start by
     removing leftovers).

Signals: SIGINT or SIGTERM stops a command and rolls back what it changed
(exit 1); a second one exits at once without waiting for the rollback
(exit 3).
`)
}

// exitError carries an exit status chosen where the error arises.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is bad usage or bad input: exit status 2.
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

func usageErrorf(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// exitCode classifies an error into an exit status: the CLI's own
// choice, else the library's classification.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, nicplug.ErrInconsistent):
		return exitPartial
	case errors.Is(err, nicplug.ErrBadInput):
		return exitUsage
	}
	return exitFailed // a rolled back *nicplug.StepError, QEMU unreachable, …
}

// printError prints err as the command's error line, "nicplug: CMD: …",
// of at most maxErrorLine bytes, its newline included: a longer message
// is cut, with "…", before the hint that oneLine adds.
func printError(w io.Writer, cmd string, err error) {
	prefix := "nicplug: " + cmd + ": "
	msg, hint := oneLineParts(cmd, err)
	if room := maxErrorLine - len(prefix) - len(hint) - len("…\n"); len(msg) > room {
		msg = strings.ToValidUTF8(msg[:max(room, 0)], "") + "…"
	}
	fmt.Fprintf(w, "%s%s%s\n", prefix, msg, hint)
}

// oneLine renders err for "nicplug: CMD: …": without the prefixes that
// line already has, on one line, uncut.
func oneLine(cmd string, err error) string {
	msg, hint := oneLineParts(cmd, err)
	return msg + hint
}

// oneLineParts is oneLine's message and the hint after it ("" or " (…)").
func oneLineParts(cmd string, err error) (msg, hint string) {
	s := err.Error()
	for _, p := range []string{"nicplug: ", cmd + ": "} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
	switch {
	case errors.Is(err, qmp.ErrNotQMP), errors.Is(err, qmp.ErrMalformedReply):
		hint = " (is --qmp QEMU's QMP socket, -qmp or -chardev socket with -mon mode=control?)"
	case errors.Is(err, context.DeadlineExceeded) && strings.Contains(s, "greeting"):
		hint = " (QEMU serves one QMP client at a time: is another one connected?)"
	case errors.Is(err, context.DeadlineExceeded):
		hint = " (raise --timeout)"
	case errors.Is(err, domain.ErrUnknownNetwork) && strings.Contains(s, "no network definitions were given"):
		hint = " (give libvirt <network> XML files in a directory with --networks DIR)"
	}
	return s, hint
}

// maxErrorLine bounds the error line, "nicplug: CMD: " and newline
// included: messages quote input cut already (domain: 64 bytes of a value,
// 200 of a decoder's error; qmp: 40-60 bytes of a monitor line), but a
// path or a joined error can be long; this is the last guard.
const maxErrorLine = 2000
