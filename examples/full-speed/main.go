// Full-speed boots a VM whose NIC is on the tap datapath (<driver
// queues='4'/>): peered for life with a fixed host tap that keeps the
// NIC's vnet_hdr offloads and its four queue pairs. The example creates
// the tap (nicplug.PrepareTaps), hands its queues to QEMU as inherited
// fds (exec.Cmd.ExtraFiles, so QEMU itself needs no privilege), then
// plugs the NIC into one bridge, moves it to another and unplugs it
// while the VM runs: no QEMU netdev changes, only the tap's master.
//
//	sudo go run ./examples/full-speed [--netns /run/netns/x --bridges br0,br1] [--qemu qemu-system-x86_64]
//
// Without --netns it makes a throw-away network namespace with two
// bridges and removes it at the end. Needs root (CAP_NET_ADMIN).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
  <name>full-speed</name>
  <devices>
    <interface type='none'>
      <mac address='52:54:00:0f:7d:ae'/>
      <model type='virtio'/>
      <driver queues='4'/>
    </interface>
  </devices>
</domain>`

const bridgeXML = `<interface type='bridge'>
  <mac address='52:54:00:0f:7d:ae'/>
  <source bridge='%s'/>
  <model type='virtio'/>
  <driver queues='4'/>
</interface>`

const noneXML = `<interface type='none'>
  <mac address='52:54:00:0f:7d:ae'/>
  <model type='virtio'/>
  <driver queues='4'/>
</interface>`

func main() {
	qemuBin := flag.String("qemu", qemuproc.Binary(), "QEMU binary ($NICPLUG_QEMU, else qemu-system-x86_64)")
	netns := flag.String("netns", "", "network namespace path holding --bridges (default: a throw-away one)")
	bridges := flag.String("bridges", "br0,br1", "the two bridges to move between, in --netns")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *qemuBin, *netns, strings.Split(*bridges, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "full-speed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, qemuBin, netns string, bridges []string) error {
	if len(bridges) != 2 {
		return fmt.Errorf("--bridges: want two bridges, got %q", bridges)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the fixed tap is a host device (CAP_NET_ADMIN)")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if netns == "" {
		ns, cleanup, err := throwAwayNetns(bridges)
		if err != nil {
			return err
		}
		defer cleanup()
		netns = ns
	}
	dom, err := domain.ParseDomain([]byte(domainXML), nil)
	if err != nil {
		return err
	}
	taps, err := nicplug.PrepareTaps(ctx, dom, &nicplug.TapOptions{Netns: netns})
	if err != nil {
		return err
	}
	defer func() {
		if err := taps.Delete(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(os.Stderr, "full-speed:", err)
		}
		fmt.Printf("deleted the fixed tap %s\n", taps.Names()["net0"])
	}()
	fmt.Printf("created the fixed tap %s (4 queues, vnet_hdr) in %s\n", taps.Names()["net0"], netns)
	tapArgs, files, err := taps.Files(ctx, 3)
	if err != nil {
		return err
	}
	args, err := exenv.QEMUArgs(ctx, qemuBin, dom, tapArgs)
	if err != nil {
		return err
	}
	q, err := exenv.StartQEMUFiles(ctx, qemuBin, "", append(args, "-smp", "4"), files)
	for _, f := range files {
		f.Close() // QEMU has its own copies now
	}
	if err != nil {
		return err
	}
	defer func() {
		q.Stop()
		fmt.Printf("stopped QEMU pid %d\n", q.Pid)
	}()
	fmt.Printf("started QEMU pid %d with -netdev %s\n", q.Pid, args[1])
	vm, err := nicplug.Attach(ctx, q.Socket, []byte(domainXML), &nicplug.Config{Netns: netns, CarrierHold: 300 * time.Millisecond})
	if err != nil {
		return err
	}
	defer vm.Close()
	fmt.Println("# boot unplugged")
	p, err := vm.PlanStart(ctx)
	if err != nil {
		return err
	}
	if err := exenv.Apply(ctx, os.Stdout, vm, p); err != nil {
		return err
	}
	for _, step := range []struct{ what, xml string }{
		{"plug into " + bridges[0], fmt.Sprintf(bridgeXML, bridges[0])},
		{"move to " + bridges[1], fmt.Sprintf(bridgeXML, bridges[1])},
		{"unplug", noneXML},
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
		if ifs[0].Backend != vm.Domain().NICs[0].Backend() {
			return fmt.Errorf("net0 is not where it should be: %+v", ifs[0])
		}
	}
	return nil
}

// throwAwayNetns makes a network namespace with the bridges, up.
func throwAwayNetns(bridges []string) (string, func(), error) {
	var b [4]byte
	rand.Read(b[:])
	name := "npfullspeed-" + hex.EncodeToString(b[:])
	cmds := [][]string{{"netns", "add", name}}
	for _, br := range bridges {
		cmds = append(cmds, []string{"-n", name, "link", "add", br, "type", "bridge"}, []string{"-n", name, "link", "set", br, "up"})
	}
	cleanup := func() { _ = exec.Command("ip", "netns", "del", name).Run() }
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return "/run/netns/" + name, cleanup, nil
}
