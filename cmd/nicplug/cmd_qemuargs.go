package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/nicplug/nicplug/domain"
)

const qemuArgsDoc = `
Print the QEMU command-line arguments for the domain's NICs, one per line
(bash: mapfile -t args < <(nicplug qemu-args d.xml)), or with --shell as one
shell-quoted line. Each NIC gets a hub of its own and no backend: start QEMU
with -S, then run 'nicplug start'. A virtio-net NIC gets its offloads turned
off explicitly (a hub port cannot take them). --qemu-version names the QEMU
that will run the arguments (10.0.2, or what 'qemu-system-x86_64 --version'
prints): from 8.1 on, the USO offloads are named too. Without it the
arguments suit every supported QEMU (7.2 to 10.0).
`

func runQEMUArgs(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("qemu-args")
	shell := fs.Bool("shell", false, "print one shell-quoted line")
	qemuVersion := fs.String("qemu-version", "", "the QEMU version that runs the arguments (default: any supported)")
	var nets netFlag
	nets.register(fs)
	pos, err := parse(e, fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := nets.load(); err != nil {
		return err
	}
	var opts domain.ArgsOptions
	if *qemuVersion != "" {
		if opts.QEMU, err = domain.ParseQEMUVersion(*qemuVersion); err != nil {
			return usageErrorf("--qemu-version: %w", err)
		}
	}
	d, _, err := readDomain(pos[0], nets.opts)
	if err != nil {
		return err
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

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
