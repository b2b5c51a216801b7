// Plug-macvtap boots a VM with its NIC unplugged, plugs it into a host
// macvtap (<interface type='direct'>), shows the wiring on both sides,
// and unplugs it again. It needs root.
//
//	sudo go run ./examples/plug-macvtap [--parent eth0] [--qemu qemu-system-x86_64]
//
// Without --parent it creates a network namespace holding a veth pair and
// uses one end as the macvtap's parent, so nothing on the host's own
// network changes; the namespace is deleted at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
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
  <name>plug-macvtap</name>
  <devices>
    <interface type='none'>
      <mac address='52:54:00:0f:7d:ad'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>`

const directXML = `<interface type='direct'>
  <mac address='52:54:00:0f:7d:ad'/>
  <source dev='%s' mode='bridge'/>
  <model type='virtio'/>
</interface>`

const noneXML = `<interface type='none'>
  <mac address='52:54:00:0f:7d:ad'/>
  <model type='virtio'/>
</interface>`

func main() {
	qemuBin := flag.String("qemu", qemuproc.Binary(), "QEMU binary ($NICPLUG_QEMU, else qemu-system-x86_64)")
	sock := flag.String("qmp", "", "where to create QEMU's QMP socket (default: a temporary directory)")
	parent := flag.String("parent", "", "macvtap parent link (default: a veth in a namespace created for the example)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *qemuBin, *sock, *parent); err != nil {
		fmt.Fprintln(os.Stderr, "plug-macvtap:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, qemuBin, sock, parent string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cfg := &nicplug.Config{}
	if parent == "" {
		ns := fmt.Sprintf("nicplug-ex%d", os.Getpid())
		if err := ip("netns", "add", ns); err != nil {
			return err
		}
		defer func() {
			ip("netns", "del", ns)
			fmt.Printf("deleted netns %s\n", ns)
		}()
		parent = "npex0"
		if err := ip("-n", ns, "link", "add", parent, "type", "veth", "peer", "name", "npex1"); err != nil {
			return err
		}
		if err := ip("-n", ns, "link", "set", parent, "up"); err != nil {
			return err
		}
		cfg.Netns = "/run/netns/" + ns
		fmt.Printf("created netns %s with veth %s/npex1\n", ns, parent)
	}

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
	if err := vm.Start(ctx); err != nil {
		return err
	}
	if _, err := exenv.PrintInterfaces(ctx, os.Stdout, vm); err != nil {
		return err
	}

	fmt.Println("\n# plug into a macvtap on", parent)
	if err := exenv.Update(ctx, os.Stdout, vm, fmt.Sprintf(directXML, parent)); err != nil {
		return err
	}
	ifs, err := exenv.PrintInterfaces(ctx, os.Stdout, vm)
	if err != nil {
		return err
	}
	st, err := vm.State(ctx)
	if err != nil {
		return err
	}
	links := st.NICs[0].HostLinks
	fmt.Printf("host side: macvtap %s on %s\n", strings.Join(links, " "), parent)
	if ifs[0].Driver != "tap" || !ifs[0].LinkUp || len(links) != 1 {
		return fmt.Errorf("net0 is not plugged into a macvtap: %+v, host links %v", ifs[0], links)
	}

	fmt.Println("\n# unplug")
	if err := exenv.Update(ctx, os.Stdout, vm, noneXML); err != nil {
		return err
	}
	if ifs, err = exenv.PrintInterfaces(ctx, os.Stdout, vm); err != nil {
		return err
	}
	if st, err = vm.State(ctx); err != nil {
		return err
	}
	if ifs[0].BackendID != "" || len(st.NICs[0].HostLinks) != 0 {
		return fmt.Errorf("net0 still plugged: %+v, host links %v", ifs[0], st.NICs[0].HostLinks)
	}
	fmt.Println("host side: macvtap deleted")
	return nil
}

// ip runs iproute2's ip.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
