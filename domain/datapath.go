package domain

import (
	"fmt"

	"libvirt.org/go/libvirtxml"
)

// Datapath is how a NIC's frames reach its backend, fixed when QEMU starts.
type Datapath string

// Datapaths.
const (
	// DatapathHub peers the NIC with a port of its own QEMU hub: any
	// backend, inside QEMU or on the host, is swapped live behind it, but
	// the NIC has no vnet_hdr offloads, no vhost-net and one queue.
	DatapathHub Datapath = "hub"
	// DatapathTap peers the NIC with a fixed host tap for life (vnet_hdr,
	// one queue per queue pair, vhost-net when asked): what changes live
	// is what the tap is plugged into on the host (a bridge, a macvlan on
	// a direct backend's parent, an existing interface). Backends inside
	// QEMU (user, sockets) cannot sit behind it.
	DatapathTap Datapath = "tap"
)

// Datapath is the NIC's datapath in libvirt's vocabulary: [DatapathTap]
// when its <driver> asks for name='vhost' or queues > 1, else
// [DatapathHub].
func (n *NIC) Datapath() Datapath {
	if d := n.driver(); d != nil && (d.Name == "vhost" || d.Queues > 1) {
		return DatapathTap
	}
	return DatapathHub
}

// Queues is the number of queue pairs the NIC asks for (<driver
// queues=…>), at least 1.
func (n *NIC) Queues() int {
	if d := n.driver(); d != nil && d.Queues > 1 {
		return int(d.Queues)
	}
	return 1
}

// Vhost reports whether the NIC asks for vhost-net (<driver name='vhost'>).
func (n *NIC) Vhost() bool {
	d := n.driver()
	return d != nil && d.Name == "vhost"
}

func (n *NIC) driver() *libvirtxml.DomainInterfaceDriver {
	if n.XML == nil {
		return nil
	}
	return n.XML.Driver
}

// maxQueues is the most queue pairs a NIC may ask for: the kernel's limit
// of tap queues (MAX_TAP_QUEUES) halved is far above any use; QEMU's
// virtio-net allows 1024. 256 keeps vectors (2·queues+2) within PCI's
// MSI-X limit of 2048.
const maxQueues = 256

// checkDriver validates <driver> for a NIC of model on any datapath.
func checkDriver(name string, queues uint, model string) error {
	switch name {
	case "", "qemu", "vhost":
	default:
		return fmt.Errorf("driver name '%s' is not supported: want qemu or vhost", clip(name))
	}
	if queues > maxQueues {
		return fmt.Errorf("driver queues=%d is out of range 1-%d", queues, maxQueues)
	}
	if (name == "vhost" || queues > 1) && !isVirtio(model) {
		asked := fmt.Sprintf("queues='%d'", queues)
		if name == "vhost" {
			asked = "name='vhost'"
		}
		return fmt.Errorf("<driver %s> needs a virtio model, not '%s'", asked, clip(model))
	}
	return nil
}

// checkDatapath refuses a backend the NIC's datapath cannot carry.
func checkDatapath(dp Datapath, b Backend) error {
	if dp != DatapathTap {
		return nil
	}
	switch b.Type {
	case TypeNone, TypeBridge, TypeDirect, TypeEthernet, "":
		return nil
	}
	return &DatapathError{Datapath: dp, Type: b.Type}
}

// DatapathError is a backend that a NIC's datapath cannot carry: on the
// tap datapath, the backends that live inside QEMU (user, sockets).
type DatapathError struct {
	// Datapath is the NIC's datapath.
	Datapath Datapath
	// Type is the backend type refused.
	Type BackendType
}

// Error names the backend, the datapath and how to choose the hub.
func (e *DatapathError) Error() string {
	return fmt.Sprintf("type %s lives inside QEMU and cannot sit behind the NIC's fixed tap (datapath %s, chosen at boot by <driver name='vhost'> or queues > 1): boot the NIC without them to use the hub datapath", e.Type, e.Datapath)
}

// maxVLAN is the highest 802.1Q VLAN id.
const maxVLAN = 4094

// withVLAN applies an interface's <vlan> to its (resolved) backend b: a
// single tag, neither trunk nor nativeMode, on a bridge backend.
func withVLAN(b Backend, v *libvirtxml.DomainInterfaceVLan) (Backend, error) {
	if v == nil {
		return b, nil
	}
	switch {
	case v.Trunk != "" || len(v.Tags) != 1:
		return b, fmt.Errorf("<vlan> with %d tags (trunk='%s') is not supported: want one <tag id='N'/>, an access port", len(v.Tags), clip(v.Trunk))
	case v.Tags[0].NativeMode != "":
		return b, fmt.Errorf("<vlan> tag nativeMode='%s' is not supported: want an access port", clip(v.Tags[0].NativeMode))
	case b.Type != TypeBridge:
		return b, fmt.Errorf("<vlan> on type %s is not supported: only a bridge port can be a VLAN access port", b.Type)
	case v.Tags[0].ID < 1 || v.Tags[0].ID > maxVLAN:
		return b, fmt.Errorf("vlan tag id %d is out of range 1-%d", v.Tags[0].ID, maxVLAN)
	}
	b.VLAN = int(v.Tags[0].ID)
	return b, nil
}
