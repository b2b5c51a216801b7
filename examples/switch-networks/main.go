// Switch-networks boots a VM whose NIC is on QEMU's user network (slirp),
// moves it to another network and back while the VM runs, printing the
// plan of each move. A move is make-before-break: the new backend is
// created standalone, then the link goes down, the backends swap on the
// NIC's hub, the link comes back up (after --carrier-hold), and only then is
// the old backend deleted.
//
//	go run ./examples/switch-networks [--parent eth0] [--carrier-hold 1s] [--announce] [--qemu qemu-system-x86_64]
//
// The other network is a host macvtap on --parent (needs root), or, without
// --parent, a UDP socket backend to 127.0.0.1 (needs nothing).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/examples/internal/exenv"
	"github.com/nicplug/nicplug/internal/qemuproc"
)

const domainXML = `<domain type='qemu'>
  <name>switch-networks</name>
  <devices>
    <interface type='user'>
      <mac address='52:54:00:0f:7d:ad'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>`

const userXML = `<interface type='user'>
  <mac address='52:54:00:0f:7d:ad'/>
  <model type='virtio'/>
</interface>`

const directXML = `<interface type='direct'>
  <mac address='52:54:00:0f:7d:ad'/>
  <source dev='%s' mode='bridge'/>
  <model type='virtio'/>
</interface>`

const udpXML = `<interface type='udp'>
  <mac address='52:54:00:0f:7d:ad'/>
  <source address='127.0.0.1' port='47001'>
    <local address='127.0.0.1' port='47002'/>
  </source>
  <model type='virtio'/>
</interface>`

func main() {
	qemuBin := flag.String("qemu", qemuproc.Binary(), "QEMU binary ($NICPLUG_QEMU, else qemu-system-x86_64)")
	sock := flag.String("qmp", "", "where to create QEMU's QMP socket (default: a temporary directory)")
	parent := flag.String("parent", "", "switch to a macvtap on this link (root); default: a UDP socket")
	hold := flag.Duration("carrier-hold", time.Second, "keep the link down this long during each move (0: nicplug.DefaultCarrierHold, negative: none)")
	announce := flag.Bool("announce", false, "send announce-self after each move")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := &nicplug.Config{CarrierHold: *hold, Announce: *announce}
	if err := run(ctx, *qemuBin, *sock, *parent, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "switch-networks:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, qemuBin, sock, parent string, cfg *nicplug.Config) error {
	hold := cfg.CarrierHold
	if hold == 0 {
		hold = nicplug.DefaultCarrierHold
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second+2*max(hold, 0))
	defer cancel()
	dom, err := domain.ParseDomain([]byte(domainXML), nil)
	if err != nil {
		return err
	}
	args, err := exenv.QEMUArgs(ctx, qemuBin, dom, nil)
	if err != nil {
		return err
	}
	q, err := exenv.StartQEMU(ctx, qemuBin, sock, args)
	if err != nil {
		return err
	}
	defer func() {
		q.Stop()
		fmt.Printf("stopped QEMU pid %d\n", q.Pid)
	}()
	fmt.Printf("started QEMU pid %d, QMP %s\n", q.Pid, q.Socket)
	vm, err := nicplug.Attach(ctx, q.Socket, []byte(domainXML), cfg)
	if err != nil {
		return err
	}
	defer vm.Close()
	fmt.Println("# boot on the user network")
	p, err := vm.PlanStart(ctx)
	if err != nil {
		return err
	}
	if err := exenv.Apply(ctx, os.Stdout, vm, p); err != nil {
		return err
	}
	if _, err := exenv.PrintInterfaces(ctx, os.Stdout, vm); err != nil {
		return err
	}

	other, name := udpXML, "a UDP socket"
	if parent != "" {
		other, name = fmt.Sprintf(directXML, parent), "a macvtap on "+parent
	}
	for _, step := range []struct{ what, xml string }{
		{"switch to " + name, other},
		{"switch back to the user network", userXML},
	} {
		fmt.Printf("\n# %s\n", step.what)
		start := time.Now()
		if err := exenv.Update(ctx, os.Stdout, vm, step.xml); err != nil {
			return err
		}
		fmt.Printf("applied in %v\n", time.Since(start).Round(time.Millisecond))
		ifs, err := exenv.PrintInterfaces(ctx, os.Stdout, vm)
		if err != nil {
			return err
		}
		if !ifs[0].LinkUp || ifs[0].Backend != vm.Domain().NICs[0].Backend() {
			return fmt.Errorf("net0 is not on the new network: %+v", ifs[0])
		}
	}
	return nil
}
