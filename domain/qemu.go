package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// hubportJSON is the -netdev of a NIC-side hub port.
type hubportJSON struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	HubID int    `json:"hubid"`
}

// deviceJSON is the -device of a NIC. Field order is output order.
type deviceJSON struct {
	Driver        string  `json:"driver"`
	ID            string  `json:"id"`
	Netdev        string  `json:"netdev"`
	MAC           string  `json:"mac"`
	Bus           string  `json:"bus,omitempty"`
	Addr          string  `json:"addr,omitempty"`
	Multifunction *bool   `json:"multifunction,omitempty"`
	BootIndex     *uint   `json:"bootindex,omitempty"`
	ROMBar        *uint   `json:"rombar,omitempty"`
	ROMFile       *string `json:"romfile,omitempty"`
	HostMTU       uint    `json:"host_mtu,omitempty"`
	MQ            *bool   `json:"mq,omitempty"`
	Vectors       uint    `json:"vectors,omitempty"`
	offloadsJSON
}

// ArgsOptions tunes [Domain.QEMUArgsFor]. A nil *ArgsOptions means the
// defaults.
type ArgsOptions struct {
	// QEMU is the version of the QEMU that will run the arguments. The
	// zero value means the oldest supported (7.2): only properties every
	// supported QEMU has are emitted. With 8.1 or newer, a virtio-net NIC
	// also gets its USO offloads turned off explicitly.
	QEMU QEMUVersion
	// Taps gives the fixed tap of each tap-datapath NIC, by device id
	// (see [NIC.Datapath]); a tap-datapath NIC without one is an error.
	Taps map[string]TapArgs
}

// QEMUArgs returns the QEMU command-line arguments for the domain's NICs:
// for each NIC a hub port on the NIC's own hub and the NIC device peered
// with it, in QEMU's JSON option syntax (accepted by -netdev and -device
// since QEMU 6.2; checked on 7.2):
//
//	-netdev {"type":"hubport","id":"np.net0.nic","hubid":0}
//	-device {"driver":"virtio-net-pci","id":"net0","netdev":"np.net0.nic","mac":"52:54:00:00:00:01"}
//
// JSON leaves no room for option injection: no value is parsed for commas
// or '=' (and every value was validated at parse time anyway).
//
// The arguments carry no backend, whatever the NIC's type: the backend
// present at boot is joined to the hub through a second hub port by
// nicplug's start plan over QMP while QEMU is stopped (-S), before `cont`,
// so boot and runtime attach share one code path. Likewise the initial
// link state ([Domain.InitialLinks]) is set over QMP before `cont`.
//
// A PCI <address> becomes bus/addr on the machine's root bus (pcie.0 for
// q35, pci.0 for pc); other buses are refused because nicplug does not
// create PCI controllers. <boot order> becomes bootindex, <rom bar> rombar,
// <rom enabled='no'> an empty romfile, and <mtu> host_mtu (virtio only).
//
// A virtio-net NIC also gets every offload that needs a vnet_hdr peer
// turned off ("csum":false, "guest_tso4":false, …; see offloads.go): QEMU
// would clear them anyway behind a hub port, and saying so keeps QEMUs
// that check a NIC's offloads against its peer from refusing it.
//
// QEMUArgs is QEMUArgsFor(nil): arguments that every supported QEMU (7.2
// to 10.0) accepts.
func (d *Domain) QEMUArgs() ([]string, error) { return d.QEMUArgsFor(nil) }

// QEMUArgsFor is [Domain.QEMUArgs] for the QEMU opts names.
func (d *Domain) QEMUArgsFor(opts *ArgsOptions) ([]string, error) {
	var o ArgsOptions
	if opts != nil {
		o = *opts
	}
	var args []string
	for i, n := range d.NICs {
		if n.Index != i {
			return nil, fmt.Errorf("domain: qemu args: NICs[%d] has Index %d", i, n.Index)
		}
		netdev, device, err := d.nicArgs(n, &o)
		if err != nil {
			return nil, fmt.Errorf("domain: qemu args: interface %s: %w", n.DeviceID(), err)
		}
		args = append(args, "-netdev", netdev, "-device", device)
	}
	return args, nil
}

func (d *Domain) nicArgs(n *NIC, o *ArgsOptions) (netdev, device string, err error) {
	id := n.DeviceID()
	if err := checkDeviceID(id); err != nil {
		return "", "", err
	}
	mac := n.MAC()
	if mac == "" {
		return "", "", errors.New("<mac address=…/> is missing or invalid: nicplug needs a fixed MAC")
	}
	if err := checkDevice(n.XML, n.Spelling); err != nil {
		return "", "", err
	}
	drv := n.QEMUModel()
	if drv == "" {
		return "", "", fmt.Errorf("model type '%s' is not supported", clip(n.Model()))
	}
	dev := deviceJSON{Driver: drv, ID: id, Netdev: n.PeerID(), MAC: mac}
	tap := n.Datapath() == DatapathTap
	switch {
	case tap && n.Queues() > 1:
		on, vectors := true, uint(2*n.Queues()+2)
		dev.MQ, dev.Vectors = &on, vectors
	case !tap && strings.HasPrefix(drv, "virtio-net-"):
		dev.offloadsJSON = hubOffloads(o.QEMU)
	}
	if a := n.XML.Address; a != nil {
		p, err := pciAddress(a)
		if err != nil {
			return "", "", err
		}
		if p.domain != 0 || p.bus != 0 {
			return "", "", fmt.Errorf("pci address %s is not on bus 0: nicplug does not create PCI controllers, so only the root bus (bus 0) can be named", p)
		}
		bus, err := d.rootBus()
		if err != nil {
			return "", "", err
		}
		dev.Bus = bus
		dev.Addr = fmt.Sprintf("%#x.%#x", p.slot, p.function)
		if p.multifunction != "" {
			on := p.multifunction == "on"
			dev.Multifunction = &on
		}
	}
	if b := n.XML.Boot; b != nil {
		order := b.Order
		dev.BootIndex = &order
	}
	if r := n.XML.ROM; r != nil {
		if r.Bar != "" {
			bar := uint(0)
			if r.Bar == "on" {
				bar = 1
			}
			dev.ROMBar = &bar
		}
		if r.Enabled == "no" {
			empty := ""
			dev.ROMFile = &empty
		}
	}
	if n.XML.MTU != nil {
		dev.HostMTU = n.XML.MTU.Size
	}
	var nb []byte
	if tap {
		t, ok := o.Taps[id]
		nd, err := tapNetdev(n, t, ok)
		if err != nil {
			return "", "", err
		}
		nb = []byte(nd)
	} else if nb, err = json.Marshal(hubportJSON{Type: "hubport", ID: n.HubPortID(), HubID: n.HubID()}); err != nil {
		return "", "", err
	}
	db, err := json.Marshal(dev)
	if err != nil {
		return "", "", err
	}
	return string(nb), string(db), nil
}

// rootBus is the QEMU id of the machine's root PCI bus.
func (d *Domain) rootBus() (string, error) {
	machine := ""
	if d.XML != nil && d.XML.OS != nil && d.XML.OS.Type != nil {
		machine = d.XML.OS.Type.Machine
	}
	switch {
	case machine == "q35" || strings.HasPrefix(machine, "pc-q35-"):
		return "pcie.0", nil
	case machine == "pc" || strings.HasPrefix(machine, "pc-i440fx-"):
		return "pci.0", nil
	case machine == "":
		return "", errors.New("a pci address needs <os><type machine='q35|pc…'> to name the root bus")
	}
	return "", fmt.Errorf("a pci address on machine type '%s' is not supported (want q35 or pc)", clip(machine))
}

// InitialLinks returns each NIC's link state to set before `cont`, in NIC
// order: down for type none/null and for <link state='down'/>, else up.
func (d *Domain) InitialLinks() []LinkState {
	out := make([]LinkState, len(d.NICs))
	for i, n := range d.NICs {
		out[i] = LinkState{DeviceID: n.DeviceID(), Up: n.LinkUp()}
	}
	return out
}
