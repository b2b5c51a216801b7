package domain_test

import (
	"fmt"

	"github.com/nicplug/nicplug/domain"
)

const exampleDomain = `<domain type='kvm'>
  <name>vm1</name>
  <devices>
    <interface type='none'>
      <mac address='52:54:00:0f:7d:ad'/>
      <model type='virtio'/>
      <alias name='lan'/>
    </interface>
    <interface type='user'>
      <mac address='52:54:00:0f:7d:ae'/>
      <model type='e1000'/>
    </interface>
  </devices>
</domain>`

func ExampleParseDomain() {
	d, err := domain.ParseDomain([]byte(exampleDomain), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range d.NICs {
		fmt.Printf("%s: %s %s backend=%s link up=%v hub=%d port=%s\n",
			n.DeviceID(), n.MAC(), n.QEMUModel(), n.Backend(), n.LinkUp(), n.HubID(), n.HubPortID())
	}
	out, _ := d.NICs[0].Marshal()
	fmt.Println(string(out))
	// Output:
	// lan: 52:54:00:0f:7d:ad virtio-net-pci backend=none link up=false hub=0 port=np.lan.nic
	// net1: 52:54:00:0f:7d:ae e1000 backend=user link up=true hub=1 port=np.net1.nic
	// <interface type="none">
	//   <mac address="52:54:00:0f:7d:ad"></mac>
	//   <model type="virtio"></model>
	//   <alias name="lan"></alias>
	// </interface>
}

func ExampleDiff() {
	d, err := domain.ParseDomain([]byte(exampleDomain), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Plug the unplugged NIC into bridge br0 (matched by MAC).
	update, err := domain.ParseInterface([]byte(`<interface type='bridge'>
  <mac address='52:54:00:0f:7d:ad'/>
  <source bridge='br0'/>
  <model type='virtio'/>
</interface>`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	old, err := d.Find(update)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := domain.Diff(old, update)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: backend -> %s, link up -> %v\n", old.DeviceID(), *c.Backend, *c.Link)

	// A model change cannot happen live.
	bad, _ := domain.ParseInterface([]byte(`<interface type='none'>
  <alias name='lan'/>
  <model type='e1000'/>
</interface>`), nil)
	_, err = domain.Diff(old, bad)
	fmt.Println(err)
	// Output:
	// lan: backend -> bridge(br0), link up -> true
	// domain: cannot modify network device model from virtio to e1000
}

func ExampleDomain_QEMUArgs() {
	d, err := domain.ParseDomain([]byte(exampleDomain), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	args, err := d.QEMUArgs()
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < len(args); i += 2 {
		fmt.Println(args[i], args[i+1])
	}
	// Before `cont`: attach each boot-time backend over QMP, then set links.
	for _, l := range d.InitialLinks() {
		fmt.Printf("set_link %s %v\n", l.DeviceID, l.Up)
	}
	// Output:
	// -netdev {"type":"hubport","id":"np.lan.nic","hubid":0}
	// -device {"driver":"virtio-net-pci","id":"lan","netdev":"np.lan.nic","mac":"52:54:00:0f:7d:ad","csum":false,"guest_csum":false,"guest_tso4":false,"guest_tso6":false,"guest_ecn":false,"guest_ufo":false,"host_tso4":false,"host_tso6":false,"host_ecn":false,"host_ufo":false}
	// -netdev {"type":"hubport","id":"np.net1.nic","hubid":1}
	// -device {"driver":"e1000","id":"net1","netdev":"np.net1.nic","mac":"52:54:00:0f:7d:ae"}
	// set_link lan false
	// set_link net1 true
}

// Rebuilding a domain from what a running QEMU reports of its NICs, then
// checking an update against it.
func ExampleFromDevices() {
	d, err := domain.FromDevices("vm1", "q35", []domain.Device{{
		ID: "net0", Driver: "virtio-net-pci", MAC: "52:54:00:0f:7d:ad",
		DevFn: 5 << 3, BootIndex: -1, ROMBar: 1, ROMFile: "efi-virtio.rom",
		Backend: domain.Backend{Type: domain.TypeUser},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := d.NICs[0].Marshal()
	fmt.Println(string(out))
	upd, _ := domain.ParseInterface([]byte(`<interface type='user'><mac address='52:54:00:0f:7d:ad'/><model type='e1000'/></interface>`), nil)
	_, err = domain.Diff(d.NICs[0], upd)
	fmt.Println(err)
	// Output:
	// <interface type="user">
	//   <mac address="52:54:00:0f:7d:ad"></mac>
	//   <model type="virtio"></model>
	//   <address type="pci" domain="0x0000" bus="0x00" slot="0x05" function="0x0"></address>
	// </interface>
	// domain: cannot modify network device model from virtio to e1000
}
