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
	// VLAN, when not 0, makes the tap an access port of that VLAN on the
	// bridge, which must filter VLANs (see TapHost.SetAccessVLAN).
	VLAN int
}

// OwnedLink is a host link found with an owner tag.
type OwnedLink struct {
	// Name is the link name.
	Name string
	// Owner is the tag it carries.
	Owner Owner
	// Kind is "macvtap", "macvlan", "tap", or the kernel's kind of
	// another link.
	Kind string
	// Parent is a macvtap's or macvlan's lower device, "" for other kinds.
	Parent string
	// Mode is a macvtap's or macvlan's mode (bridge, vepa, private,
	// passthrough), "" for other kinds.
	Mode string
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

// FixedTapConfig describes the fixed tap of a NIC on the tap datapath: a
// persistent tap the NIC is peered with for life, vnet_hdr-capable, with
// one queue per NIC queue pair.
type FixedTapConfig struct {
	// Name is the tap's name ([TapName]).
	Name string
	// MAC is the guest NIC's MAC; the tap gets it with a 0xfe first byte.
	MAC string
	// Queues is the number of queues (≥ 1); more than one makes the tap
	// IFF_MULTI_QUEUE, which QEMU then must open with queues=N.
	Queues int
	// UID and GID, when ≥ 0, let that user or group open the tap without
	// CAP_NET_ADMIN (TUNSETOWNER, TUNSETGROUP): an unprivileged QEMU
	// opening it by name. Negative sets no owner, which the kernel reads
	// as "anybody holding a /dev/net/tun descriptor": root only as long as
	// /dev/net/tun is 0600 root and no descriptor is handed out; 0 makes
	// it root only even then.
	UID, GID int
	// Owner tags the tap.
	Owner Owner
}

// MacvlanConfig describes the macvlan that carries a tap-datapath NIC's
// direct backend: the guest's MAC on the parent's L2, joined to the fixed
// tap by redirect filters.
type MacvlanConfig struct {
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

// TapPlug is what a fixed tap is plugged into on the host, as read back.
type TapPlug struct {
	// Master is the bridge the tap is enslaved to, "" if none.
	Master string
	// VLAN is the tap's access VLAN on its bridge: its PVID when that is
	// its only VLAN, is untagged and is not the bridge's default
	// (DefaultPVID). 0 when the tap has no master, is on a bridge without
	// VLAN filtering, is on the bridge's default VLAN alone (where
	// SetAccessVLAN 0 puts it), or has any other VLAN set-up.
	VLAN int
	// DefaultPVID is the bridge's vlan_default_pvid when it filters
	// VLANs, else 0: an access VLAN equal to it reads back as VLAN 0.
	DefaultPVID int
	// VLANs describes the tap's VLANs on its bridge as `bridge vlan`
	// prints them ("1 PVID untagged"), for messages; nil when none.
	VLANs []string
	// Redirect is the link the tap's ingress is redirected to by a
	// match-all mirred redirect filter (a macvlan, or an ethernet
	// backend's interface), "" if none.
	Redirect string
	// Back reports whether Redirect's ingress is redirected back to the
	// tap (the other half of the pair).
	Back bool
}

// TapHost is the host side of the tap datapath: the fixed tap and what it
// is plugged into. Like [Host], it acts in one network namespace and every
// method leaves nothing behind when it fails.
type TapHost interface {
	// CreateFixedTap creates the persistent tap, tags it and brings it
	// up, plugged into nothing. An existing tap of that name with the
	// same owner is an error matching os.ErrExist.
	CreateFixedTap(ctx context.Context, cfg FixedTapConfig) error
	// UpdateFixedTap brings the existing fixed tap cfg.Name with
	// cfg.Owner's tag in line with cfg: it gives it cfg's UID and GID
	// where they differ, and refuses what cannot change on an existing
	// tap (its queue mode, an owner or group to remove).
	UpdateFixedTap(ctx context.Context, cfg FixedTapConfig) error
	// OpenTapQueues opens queues queues of the fixed tap name with
	// vnet_hdr, as QEMU's tap netdev takes them (fds=…).
	OpenTapQueues(ctx context.Context, name string, queues int) ([]*os.File, error)
	// TapPlug reads back what the tap name is plugged into; a tap that is
	// not there is an error matching os.ErrNotExist.
	TapPlug(ctx context.Context, name string) (TapPlug, error)
	// CheckBridge fails unless bridge exists and is a bridge (filtering
	// VLANs when vlans is set); it changes nothing, so that a move checks
	// the bridge before the NIC's link goes down.
	CheckBridge(ctx context.Context, bridge string, vlans bool) error
	// CheckRedirectTarget fails unless dev can be joined to the fixed
	// tap by redirects as an ethernet backend: it exists, is neither
	// the tap nor another device of nicplug's, and is not redirected to
	// another device by nicplug. It changes nothing, so that a move
	// checks dev before the NIC's link goes down.
	CheckRedirectTarget(ctx context.Context, dev, tap string) error
	// SetMaster enslaves link to bridge, or releases it when bridge is "".
	// Enslaving a link that has another master moves it.
	SetMaster(ctx context.Context, link, bridge string) error
	// SetAccessVLAN makes link an access port of VLAN vlan on its
	// bridge, which must filter VLANs: vlan its only VLAN, PVID and
	// untagged. vlan 0 restores the bridge's default (its default_pvid,
	// PVID and untagged).
	SetAccessVLAN(ctx context.Context, link string, vlan int) error
	// CreateMacvlan creates the macvlan, tags it and brings it up.
	CreateMacvlan(ctx context.Context, cfg MacvlanConfig) error
	// AddRedirect makes every frame received on from's ingress leave
	// through to (tc ingress qdisc on from, u32 match-all filter, mirred
	// egress redirect). A redirect from from already there is replaced.
	AddRedirect(ctx context.Context, from, to string) error
	// DelRedirect removes nicplug's redirect from from's ingress (and the
	// ingress qdisc when it then holds no filter). No redirect there is
	// an error matching os.ErrNotExist.
	DelRedirect(ctx context.Context, from string) error
}
