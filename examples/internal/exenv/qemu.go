// Package exenv holds what the nicplug examples share: starting the
// guest-less QEMU they drive, and printing a VM's NIC wiring.
package exenv

import (
	"context"
	"os"

	"github.com/nicplug/nicplug/domain"

	"github.com/nicplug/nicplug/internal/qemuproc"
)

// QEMU is a qemu-system-x86_64 started with -S and a QMP socket.
type QEMU struct {
	// Socket is the QMP unix socket.
	Socket string
	// Pid is the process id.
	Pid int

	q *qemuproc.QEMU
}

// StartQEMU starts bin, paused (-S) with no guest, no display and no
// default devices, with extra arguments appended (the domain's
// QEMUArgs), and waits until its QMP socket answers. socket is where the
// QMP socket goes; "" means a fresh temporary directory. QEMU's standard
// error goes to this process's. QEMU dies with this process (see package
// internal/child).
func StartQEMU(ctx context.Context, bin, socket string, extra []string) (*QEMU, error) {
	return StartQEMUFiles(ctx, bin, socket, extra, nil)
}

// StartQEMUFiles is StartQEMU with files QEMU inherits as fds 3, 4, …
// (the queues of fixed taps, see nicplug.Taps.Files).
func StartQEMUFiles(ctx context.Context, bin, socket string, extra []string, files []*os.File) (*QEMU, error) {
	accel := "tcg"
	if _, err := os.Stat("/dev/kvm"); err == nil {
		accel = "kvm:tcg"
	}
	q, err := qemuproc.Start(ctx, &qemuproc.Config{
		Binary:     bin,
		Accel:      accel,
		Socket:     socket,
		Args:       extra,
		Stderr:     os.Stderr,
		ExtraFiles: files,
	})
	if err != nil {
		return nil, err
	}
	return &QEMU{Socket: q.Socket(), Pid: q.Pid(), q: q}, nil
}

// Stop kills QEMU, waits until it is gone and removes its files.
func (q *QEMU) Stop() { q.q.Kill() }

// Done is closed when QEMU has exited.
func (q *QEMU) Done() <-chan struct{} { return q.q.Done() }

// QEMUArgs is dom's NIC arguments for the QEMU bin (asked for its
// version, so that from 8.1 on a hub NIC names its USO offloads off too),
// with taps for the NICs on the tap datapath (nil when there are none).
func QEMUArgs(ctx context.Context, bin string, dom *domain.Domain, taps map[string]domain.TapArgs) ([]string, error) {
	v, err := qemuproc.Version(ctx, bin)
	if err != nil {
		return nil, err
	}
	return dom.QEMUArgsFor(&domain.ArgsOptions{QEMU: v, Taps: taps})
}
