// Boot-unplugged boots a VM whose only NIC has its cable unplugged
// (<interface type='none'>): it starts qemu-system-x86_64 -S with the
// arguments nicplug derives from the domain, runs the start plan, and shows
// that the NIC has no backend and its link is down. Then it kills QEMU.
//
//	go run ./examples/boot-unplugged [--qemu qemu-system-x86_64] [--qmp SOCK] [--wait]
//
// With --wait it keeps the VM until Ctrl-C, so that you can look at it
// with `nicplug show --qmp SOCK` or plug it with `nicplug update`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/examples/internal/exenv"
	"github.com/nicplug/nicplug/internal/qemuproc"
)

const domainXML = `<domain type='qemu'>
  <name>boot-unplugged</name>
  <devices>
    <interface type='none'>
      <mac address='52:54:00:0f:7d:ad'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>`

func main() {
	qemuBin := flag.String("qemu", qemuproc.Binary(), "QEMU binary ($NICPLUG_QEMU, else qemu-system-x86_64)")
	sock := flag.String("qmp", "", "where to create QEMU's QMP socket (default: a temporary directory)")
	wait := flag.Bool("wait", false, "keep the VM running until interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *qemuBin, *sock, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "boot-unplugged:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, qemuBin, sock string, wait bool) error {
	dom, err := domain.ParseDomain([]byte(domainXML), nil)
	if err != nil {
		return err
	}
	args, err := exenv.QEMUArgs(ctx, qemuBin, dom, nil)
	if err != nil {
		return err
	}
	fmt.Printf("$ %s -S … %s\n", qemuBin, strings.Join(args, " "))
	q, err := exenv.StartQEMU(ctx, qemuBin, sock, args)
	if err != nil {
		return err
	}
	defer func() {
		q.Stop()
		fmt.Printf("stopped QEMU pid %d\n", q.Pid)
	}()
	fmt.Printf("started QEMU pid %d, QMP %s\n", q.Pid, q.Socket)

	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	vm, err := nicplug.Attach(tctx, q.Socket, []byte(domainXML), nil)
	if err != nil {
		return err
	}
	defer vm.Close()
	p, err := vm.PlanStart(tctx)
	if err != nil {
		return err
	}
	if err := exenv.Apply(tctx, os.Stdout, vm, p); err != nil {
		return err
	}
	ifs, err := exenv.PrintInterfaces(tctx, os.Stdout, vm)
	if err != nil {
		return err
	}
	for _, it := range ifs {
		if it.LinkUp || it.BackendID != "" {
			return fmt.Errorf("%s should be unplugged with its link down", it.Device)
		}
	}
	if wait {
		fmt.Printf("VM running; try: nicplug show --qmp %s   (Ctrl-C to stop)\n", q.Socket)
		vm.Close() // QEMU serves one QMP client at a time: leave it to the CLI
		select {
		case <-ctx.Done():
		case <-q.Done():
			return errors.New("QEMU exited")
		}
	}
	return nil
}
