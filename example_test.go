package nicplug_test

import (
	"context"
	"fmt"
	"log"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

// A plan computed purely from a NIC's live state and the wanted wiring.
func ExamplePlan_String() {
	p := nicplug.Planner{VM: "demo"}
	live := nicplug.NICState{Device: "net0", Peer: "np.net0.nic", Hub: 0} // nothing attached
	cur := nicplug.Wiring{Device: "net0", MAC: "52:54:00:0f:7d:ad", Backend: domain.Backend{Type: domain.TypeNone}}
	want := cur
	want.Backend, want.LinkUp = domain.Backend{Type: domain.TypeUser}, true
	plan, err := p.Update(live, cur, want)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(plan)
	// Output:
	// plan plug demo net0: 3 steps
	//   1  prepare  qmp  netdev_add {"type":"user","id":"np.net0.b1.ha2530f8d"}   undo: netdev_del {"id":"np.net0.b1.ha2530f8d"}
	//   2  attach   qmp  netdev_add {"type":"hubport","id":"np.net0.p1","hubid":0,"netdev":"np.net0.b1.ha2530f8d"}   undo: netdev_del {"id":"np.net0.p1"}
	//   3  up       qmp  set_link {"name":"net0","up":true}   undo: set_link {"name":"net0","up":false}
}

// A make-before-break switch from a user backend to a macvtap. The zero
// CarrierHold is the DefaultCarrierHold (8 s): long enough for the guest's
// NetworkManager to notice and renew DHCP.
func ExamplePlanner_Update() {
	p := nicplug.Planner{VM: "demo"}
	user := domain.Backend{Type: domain.TypeUser}
	live := nicplug.NICState{Device: "net0", Peer: "np.net0.nic", Hub: 0, Backends: []nicplug.BackendState{
		{ID: "np.net0.b1.ha2530f8d", Driver: "user", Port: "np.net0.p1"},
	}}
	cur := nicplug.Wiring{Device: "net0", MAC: "52:54:00:0f:7d:ad", Backend: user, LinkUp: true}
	want := cur
	want.Backend = domain.Backend{Type: domain.TypeDirect, Dev: "eth0", Mode: "bridge"}
	plan, err := p.Update(live, cur, want)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(plan.Kind, len(plan.Steps), "steps")
	for _, s := range plan.Steps {
		fmt.Println(s.Num, s.Phase, s.Do.Type, s.Do.Command+string(s.Do.Op)+s.Do.Duration)
	}
	// Output:
	// switch 11 steps
	// 1 prepare host create-macvtap
	// 2 prepare host open-macvtap
	// 3 prepare qmp getfd
	// 4 prepare qmp netdev_add
	// 5 arm qmp query-rx-filter
	// 6 down qmp set_link
	// 7 detach qmp netdev_del
	// 8 attach qmp netdev_add
	// 9 hold wait 8s
	// 10 up qmp set_link
	// 11 finish qmp netdev_del
}

// Booting a VM with an unplugged NIC and plugging it later. QEMU must have
// been started with -S and the domain's QEMUArgs.
func ExampleAttach() {
	ctx := context.Background()
	domainXML := []byte(`<domain type='kvm'><name>demo</name><devices>
	  <interface type='none'><mac address='52:54:00:0f:7d:ad'/><model type='virtio'/></interface>
	</devices></domain>`)
	vm, err := nicplug.Attach(ctx, "/run/demo/qmp.sock", domainXML, &nicplug.Config{Netns: "/run/netns/demo"})
	if err != nil {
		log.Fatal(err)
	}
	defer vm.Close()
	if err := vm.Start(ctx); err != nil { // link down, then cont
		log.Fatal(err)
	}
	plug := []byte(`<interface type='direct'><mac address='52:54:00:0f:7d:ad'/>
	  <source dev='eth0' mode='bridge'/><model type='virtio'/></interface>`)
	plan, err := vm.PlanUpdate(ctx, plug)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(plan)
	if err := vm.Apply(ctx, plan); err != nil {
		log.Fatal(err) // a *nicplug.StepError; everything was rolled back
	}
}

// Reading back what each NIC is wired to.
func ExampleVM_Interfaces() {
	ctx := context.Background()
	var vm *nicplug.VM // from Attach
	ifs, err := vm.Interfaces(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range ifs {
		fmt.Printf("%s %s hub %d link %v backend %s (%v)\n", it.Device, it.MAC, it.Hub, it.LinkUp, it.BackendID, it.Backend)
	}
}

// Moving a running VM's NIC to another network from a process that does not
// have the VM's domain XML (an operator's tool, a restarted controller):
// the domain is rebuilt from QEMU and the host, and the update is checked
// against it as libvirt would check it.
func ExampleAttachRunning() {
	ctx := context.Background()
	// "" takes the name from QEMU's -name; it finds the host devices
	// nicplug created for this VM.
	vm, err := nicplug.AttachRunning(ctx, "/run/demo/qmp.sock", "", &nicplug.Config{Netns: "/run/netns/demo"})
	if err != nil {
		log.Fatal(err)
	}
	defer vm.Close()
	live, err := vm.Domain().Marshal() // what QEMU and the host tell
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", live)
	err = vm.UpdateDevice(ctx, []byte(`<interface type='bridge'><mac address='52:54:00:0f:7d:ad'/>
	  <source bridge='br0'/><model type='virtio'/></interface>`))
	if err != nil {
		log.Fatal(err)
	}
}

// A move on the tap datapath (a NIC booted with <driver queues='4'/>):
// the NIC keeps its fixed tap, and only the host re-plumbs it, from a
// bridge to a macvlan on eth0 joined to the tap by tc redirects. The
// macvlan is made before the link goes down.
func ExamplePlanner_Update_tapDatapath() {
	p := nicplug.Planner{VM: "demo", CarrierHold: nicplug.NoCarrierHold}
	cur := nicplug.Wiring{Device: "net0", MAC: "52:54:00:0f:7d:ad", Datapath: domain.DatapathTap,
		Backend: domain.Backend{Type: domain.TypeBridge, Bridge: "br0"}, LinkUp: true}
	want := cur
	want.Backend = domain.Backend{Type: domain.TypeDirect, Dev: "eth0", Mode: "bridge"}
	plan, err := p.Update(nicplug.AsLive("demo", cur), cur, want)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(plan)
	// Output:
	// plan switch demo net0: 6 steps
	//   1  prepare  host  create-macvlan nped0de4aeaa parent=eth0 mode=bridge mac=52:54:00:0f:7d:ad owner=demo/net0   undo: delete-link nped0de4aeaa
	//   2  down     qmp   set_link {"name":"net0","up":false}   undo: set_link {"name":"net0","up":true}
	//   3  detach   host  set-master npdcbc19d97c nomaster   undo: set-master npdcbc19d97c master=br0
	//   4  attach   host  add-redirect npdcbc19d97c -> nped0de4aeaa   undo: del-redirect npdcbc19d97c
	//   5  attach   host  add-redirect nped0de4aeaa -> npdcbc19d97c   undo: del-redirect nped0de4aeaa
	//   6  up       qmp   set_link {"name":"net0","up":true}   undo: set_link {"name":"net0","up":false}
}
