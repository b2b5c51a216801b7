package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/qemuproc"
)

// qemuProc is a guest-less QEMU: `-S -nodefaults -display none -machine
// q35,accel=tcg -m 64`, its QMP socket(s) in a temporary directory (see
// package internal/qemuproc).
type qemuProc struct {
	sockets []string  // the QMP sockets
	cmd     *exec.Cmd // the process
	q       *qemuproc.QEMU
}

// startQEMU starts a paused guest-less QEMU with nsock QMP sockets and
// extra arguments and waits until every socket answers.
func startQEMU(ctx context.Context, nsock int, extra ...string) (*qemuProc, error) {
	q, err := qemuproc.Start(ctx, &qemuproc.Config{Sockets: nsock, Args: extra})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return &qemuProc{sockets: q.Sockets, cmd: q.Cmd, q: q}, nil
}

// sock returns the first QMP socket.
func (q *qemuProc) sock() string { return q.sockets[0] }

// kill kills QEMU, reaps it and removes its files.
func (q *qemuProc) kill() { q.q.Kill() }

// qemuVersion returns the first line of the QEMU binary's --version
// (qemuproc.Binary: $NICPLUG_QEMU or qemu-system-x86_64).
func qemuVersion() string {
	out, err := exec.Command(qemuproc.Binary(), "--version").Output()
	if err != nil {
		return "QEMU not found"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// qemuArgs returns dom's NIC arguments for the QEMU the bench runs
// (qemuproc.Binary).
func qemuArgs(ctx context.Context, dom *domain.Domain) ([]string, error) {
	v, err := qemuproc.Version(ctx, "")
	if err != nil {
		return nil, err
	}
	return dom.QEMUArgsFor(&domain.ArgsOptions{QEMU: v})
}
