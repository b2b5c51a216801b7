package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// newFlagSet returns a silent FlagSet for command name: parse prints its
// help and run reports its errors.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// printHelp prints the usage, doc and flags of fs's command to w.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	c, _ := lookup(fs.Name())
	fmt.Fprintf(w, "Usage: nicplug %s %s\n\n%s\n", c.name, c.synopsis, strings.TrimSpace(c.doc))
	if hasFlags(fs) {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses args, flags and positional arguments in any order ("--"
// ends flags), and checks the number of positional arguments. -h returns
// flag.ErrHelp after printing the usage.
func parse(e *env, fs *flag.FlagSet, args []string, minPos, maxPos int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printHelp(e.stdout, fs)
				return nil, err
			}
			return nil, usageErrorf("%v (see nicplug %s -h)", err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if err := boolValueHint(fs, args[:len(args)-len(rest)], rest[0]); err != nil {
			return nil, err
		}
		if rest[0] == "--" {
			pos = append(pos, rest[1:]...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < minPos {
		return nil, usageErrorf("missing arguments (see nicplug %s -h)", fs.Name())
	}
	if len(pos) > maxPos {
		return nil, usageErrorf("unexpected argument %q (see nicplug %s -h)", pos[maxPos], fs.Name())
	}
	return pos, nil
}

// A command ends within --timeout plus timeoutMargin: a rollback that
// starts at the deadline gets undoQMPBudget for QEMU's undos and, apart,
// undoHostBudget for the host's (a hung QEMU cannot starve the removal of
// host devices), then afterBudget to bring the host device record up to
// date and, after a failed rollback, afterBudget again to read QEMU back
// for the message and DOMAIN.xml.
const (
	undoQMPBudget  = 2 * time.Second
	undoHostBudget = 2 * time.Second
	afterBudget    = time.Second
	timeoutMargin  = undoQMPBudget + undoHostBudget + 2*afterBudget
)

// boolValueHint refuses "--save false": a boolean flag takes its value
// only after '=', so the word would silently become an argument.
func boolValueHint(fs *flag.FlagSet, parsed []string, next string) error {
	if len(parsed) == 0 {
		return nil
	}
	last := parsed[len(parsed)-1]
	name := strings.TrimLeft(last, "-")
	if !strings.HasPrefix(last, "-") || strings.Contains(name, "=") {
		return nil
	}
	f := fs.Lookup(name)
	if f == nil {
		return nil
	}
	if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
		return nil
	}
	switch strings.ToLower(next) {
	case "true", "false", "yes", "no", "on", "off", "0", "1", "t", "f":
		return usageErrorf("%s %s: a boolean flag takes its value after '=': %s=%s (see nicplug %s -h)", last, next, last, next, fs.Name())
	}
	return nil
}

// connFlags are the flags of commands that talk to QEMU.
type connFlags struct {
	qmp     string
	timeout time.Duration
	netns   string
	verbose bool
	nets    netFlag
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.qmp, "qmp", "", "QEMU's QMP unix `socket`")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up after this long; a rollback and the bookkeeping after it may take up to "+
		timeoutMargin.String()+" more\n(QEMU's undos "+undoQMPBudget.String()+", the host's "+undoHostBudget.String()+", then "+afterBudget.String()+")")
	fs.StringVar(&c.netns, "netns", "", "network namespace `path` where host devices are created (default: the current one)")
	fs.BoolVar(&c.verbose, "v", false, "log each step to standard error")
	c.nets.register(fs)
}

// check validates the flags after parsing; needQMP says --qmp is required.
func (c *connFlags) check(needQMP bool) error {
	if needQMP && c.qmp == "" {
		return usageErrorf("--qmp is required")
	}
	if c.timeout <= 0 {
		return usageErrorf("--timeout must be positive, not %v", c.timeout)
	}
	return checkNetns(c.netns)
}

// checkName validates a --name flag's VM name before anything else runs.
func checkName(name string) error {
	if name == "" {
		return nil
	}
	if err := domain.CheckName(name); err != nil {
		return usageErrorf("--name: %w", err)
	}
	return nil
}

// begin bounds ctx by --timeout, reads the command's input files within
// it (--networks, then read's, if read is not nil) before it takes the
// VM's lock (see [vmLock]), so that an input that never comes holds no
// lock, and takes the lock, waiting for another command to finish within
// that time. The caller calls end when done with QEMU.
func (c *connFlags) begin(ctx context.Context, read func(context.Context) error) (_ context.Context, end func(), _ error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	err := c.nets.load(ctx)
	if err == nil && read != nil {
		err = read(ctx)
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	l, err := lockVM(ctx, c.qmp)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, func() { l.unlock(); cancel() }, nil
}

func (c *connFlags) logger(e *env) *slog.Logger {
	if !c.verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// planFlags tune plans.
type planFlags struct {
	hold      time.Duration
	fixedHold bool
	announce  bool
}

func (p *planFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&p.hold, "carrier-hold", nicplug.DefaultCarrierHold,
		"keep the link down at most this long while switching networks, so the guest notices and re-runs DHCP\n"+
			"(NetworkManager ignores shorter drops than about 6s); the hold ends early once the guest changes its\n"+
			"NIC's receive filter (systemd-networkd: ~0.1s, NetworkManager: ~6.2s); 0: no hold, which most guests miss")
	fs.BoolVar(&p.fixedHold, "carrier-hold-fixed", false, "hold the link down for the whole --carrier-hold, not until the guest reacts")
	fs.BoolVar(&p.announce, "announce", false, "send announce-self (gratuitous ARP) after a plug or switch")
}

func (p *planFlags) check() error {
	if p.hold < 0 {
		return usageErrorf("--carrier-hold must not be negative")
	}
	return nil
}

// carrierHold is the library's CarrierHold for --carrier-hold, whose 0
// means no hold (the library's zero means its default).
func (p *planFlags) carrierHold() time.Duration {
	if p.hold == 0 {
		return nicplug.NoCarrierHold
	}
	return p.hold
}

// config is the library configuration for these flags.
func config(e *env, c *connFlags, p *planFlags) *nicplug.Config {
	log := c.logger(e)
	cfg := &nicplug.Config{Netns: c.netns, Logger: log, QMP: &qmp.Config{Logger: log},
		UndoTimeout: undoQMPBudget, HostUndoTimeout: undoHostBudget, UnknownLinks: unknownLinks(c.qmp),
		Resolver: c.nets.resolver()}
	if p != nil {
		cfg.CarrierHold, cfg.FixedCarrierHold, cfg.Announce = p.carrierHold(), p.fixedHold, p.announce
	}
	return cfg
}
