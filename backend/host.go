package backend

import (
	"context"
	"os"
)

// Owner tags a host link nicplug created with the VM and NIC it belongs to,
// so that leftovers can be found and removed after a crash.
type Owner struct {
	// VM is the domain name.
	VM string `json:"vm"`
	// NIC is the QEMU device id of the NIC.
	NIC string `json:"nic"`
}

// MacvtapConfig describes a macvtap to create for a direct backend.
type MacvtapConfig struct {
	// Name is the link name ([LinkName]).
	Name string
	// Parent is the lower device (Backend.Dev).
	Parent string
	// Mode is bridge, vepa, private or passthrough.
	Mode string
	// MAC is the guest NIC's MAC address.
	MAC string
	// Owner tags the link.
	Owner Owner
}

// BridgeTapConfig describes a tap to create and enslave to a bridge.
type BridgeTapConfig struct {
	// Name is the link name ([LinkName]).
	Name string
	// Bridge is the bridge to join.
	Bridge string
	// MAC is the guest NIC's MAC; the tap's own MAC is derived from it.
	MAC string
	// Owner tags the link.
	Owner Owner
}

// OwnedLink is a host link found with an owner tag.
type OwnedLink struct {
	// Name is the link name.
	Name string
	// Owner is the tag it carries.
	Owner Owner
	// Kind is "macvtap", "tap", or the kernel's kind of another link.
	Kind string
	// Parent is a macvtap's lower device, "" for other kinds.
	Parent string
	// Master is the bridge a tap is enslaved to, "" if none.
	Master string
}

// Host is what the plan engine needs from the host. Implementations act in
// one network namespace chosen when they are made. Every method must leave
// nothing behind when it fails.
type Host interface {
	// CreateMacvtap creates the macvtap and brings it up.
	CreateMacvtap(ctx context.Context, cfg MacvtapConfig) error
	// CreateBridgeTap creates a persistent tap, enslaves it and brings it up.
	CreateBridgeTap(ctx context.Context, cfg BridgeTapConfig) error
	// OpenMacvtap opens one queue of the macvtap name (no vnet header).
	OpenMacvtap(ctx context.Context, name string) (*os.File, error)
	// OpenTap opens one queue of the tap name (no vnet header).
	OpenTap(ctx context.Context, name string) (*os.File, error)
	// DeleteLink deletes the link. A link that is not there is an error
	// matching os.ErrNotExist: nothing was deleted (the plan engine
	// reports it, as the link may live in another namespace).
	DeleteLink(ctx context.Context, name string) error
	// ListOwned lists the links tagged with an owner whose VM is vm.
	ListOwned(ctx context.Context, vm string) ([]OwnedLink, error)
}
