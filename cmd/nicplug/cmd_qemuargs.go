package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/qemuproc"
)

const qemuArgsDoc = `
Print the QEMU command-line arguments for the domain's NICs, one per line
(bash: mapfile -t args < <(nicplug qemu-args d.xml)), or with --shell as one
shell-quoted line. Each NIC gets a hub of its own and no backend: start QEMU
with -S, then run 'nicplug start'. A virtio-net NIC gets its offloads turned
off explicitly (a hub port cannot take them); from QEMU 8.1 on, the USO
offloads are named too. --qemu-version names the QEMU that will run the
arguments: a version (10.0.2, or what 'qemu-system-x86_64 --version'
prints), 'any' (arguments every supported QEMU, 7.2 to 10.0, accepts,
without the USO offloads), or 'auto' (the default: ask $NICPLUG_QEMU, else
qemu-system-x86_64 from PATH, for its version; when that cannot be run,
a note on standard error and the arguments of 'any').

A NIC whose <driver> asks for name='vhost' or queues > 1 is on the tap
datapath instead: qemu-args creates its fixed tap (in --netns; needs
CAP_NET_ADMIN), plugged into nothing, and names it (ifname=…, vnet_hdr,
queues=N, vhost=on when asked). QEMU opens it by name, so it must run with
CAP_NET_ADMIN in that namespace, or as the user given with --tap-user
(which also needs read-write access to /dev/net/tun). Running qemu-args
again keeps the taps it created; 'nicplug cleanup' deletes them once QEMU
has exited.
`

func runQEMUArgs(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("qemu-args")
	shell := fs.Bool("shell", false, "print one shell-quoted line")
	qemuVersion := fs.String("qemu-version", "auto", "the `version` of the QEMU that runs the arguments: MAJOR.MINOR[.MICRO], any, or auto ($NICPLUG_QEMU or qemu-system-x86_64 --version)")
	netns := fs.String("netns", "", "network namespace `path` where fixed taps are created (default: the current one)")
	tapUser := fs.String("tap-user", "", "`UID[:GID]` that may open the fixed taps without CAP_NET_ADMIN")
	var nets netFlag
	nets.register(fs)
	pos, err := parse(e, fs, args, 1, 1)
	if err != nil {
		return err
	}
	user, err := parseTapUser(*tapUser)
	if err != nil {
		return err
	}
	if err := checkNetns(*netns); err != nil {
		return err
	}
	if err := nets.load(ctx); err != nil {
		return err
	}
	if *qemuVersion != "auto" {
		if _, err := argsVersion(ctx, e, *qemuVersion); err != nil {
			return err
		}
	}
	d, _, err := readDomain(ctx, pos[0], nets.opts)
	if err != nil {
		return err
	}
	var opts domain.ArgsOptions
	if opts.QEMU, err = argsVersion(ctx, e, *qemuVersion); err != nil {
		return err
	}
	if hasTapNIC(d) {
		if _, err := d.QEMUArgsFor(&domain.ArgsOptions{QEMU: opts.QEMU, Taps: placeholderTaps(d)}); err != nil {
			return usageErrorf("%s: %w", pos[0], err)
		}
		taps, err := nicplug.PrepareTaps(ctx, d, &nicplug.TapOptions{Netns: *netns, User: user})
		if err != nil {
			return inFile(pos[0], err)
		}
		opts.Taps = taps.Args()
	}
	qargs, err := d.QEMUArgsFor(&opts)
	if err != nil {
		return usageErrorf("%s: %w", pos[0], err)
	}
	if *shell {
		quoted := make([]string, len(qargs))
		for i, a := range qargs {
			quoted[i] = shellQuote(a)
		}
		_, err = fmt.Fprintln(e.stdout, strings.Join(quoted, " "))
		return err
	}
	for _, a := range qargs {
		if _, err := fmt.Fprintln(e.stdout, a); err != nil {
			return err
		}
	}
	return nil
}

// argsVersion is the QEMU version the arguments are for, from
// --qemu-version: a version, "any" (zero: what every supported QEMU
// accepts) or "auto" (the version of the QEMU the helpers would start; if
// it cannot be asked, a note and "any").
func argsVersion(ctx context.Context, e *env, flag string) (domain.QEMUVersion, error) {
	switch flag {
	case "any", "":
		return domain.QEMUVersion{}, nil
	case "auto":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		v, err := qemuproc.Version(ctx, "")
		if err != nil {
			fmt.Fprintf(e.stderr, "nicplug: qemu-args: note: %v: arguments for any supported QEMU (give --qemu-version)\n", err)
			return domain.QEMUVersion{}, nil
		}
		return v, nil
	}
	v, err := domain.ParseQEMUVersion(flag)
	if err != nil {
		return v, usageErrorf("--qemu-version: %w", err)
	}
	return v, nil
}

func hasTapNIC(d *domain.Domain) bool {
	for _, n := range d.NICs {
		if n.Datapath() == domain.DatapathTap {
			return true
		}
	}
	return false
}

// placeholderTaps names a tap for each tap-datapath NIC, to check the
// arguments before anything is created.
func placeholderTaps(d *domain.Domain) map[string]domain.TapArgs {
	out := map[string]domain.TapArgs{}
	for _, n := range d.NICs {
		out[n.DeviceID()] = domain.TapArgs{Ifname: "tap0"}
	}
	return out
}

// parseTapUser parses --tap-user UID[:GID] (GID defaults to UID).
func parseTapUser(s string) (*nicplug.TapUser, error) {
	if s == "" {
		return nil, nil
	}
	us, gs, hasG := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(us, 10, 31)
	if err != nil {
		return nil, usageErrorf("--tap-user %q: want a numeric UID[:GID]", s)
	}
	gid := uid
	if hasG {
		if gid, err = strconv.ParseUint(gs, 10, 31); err != nil {
			return nil, usageErrorf("--tap-user %q: want a numeric UID[:GID]", s)
		}
	}
	return &nicplug.TapUser{UID: int(uid), GID: int(gid)}, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
