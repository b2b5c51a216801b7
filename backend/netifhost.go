package backend

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/nicplug/nicplug/netif"
)

// NetifHost is the [Host] that package netif implements, acting in one
// network namespace.
type NetifHost struct {
	// Netns is the namespace path; "" means the caller's.
	Netns string
}

// NewNetifHost returns the netif-backed [Host] for the network namespace at
// netns ("" = the caller's).
func NewNetifHost(netns string) *NetifHost { return &NetifHost{Netns: netns} }

var _ Host = (*NetifHost)(nil)

// CreateMacvtap creates the macvtap with netif.CreateMacvtap.
func (h *NetifHost) CreateMacvtap(ctx context.Context, cfg MacvtapConfig) error {
	mode, err := netif.ParseMacvtapMode(cfg.Mode)
	if err != nil {
		return err
	}
	mac, err := net.ParseMAC(cfg.MAC)
	if err != nil {
		return fmt.Errorf("backend: macvtap %s: %w", cfg.Name, err)
	}
	_, err = netif.CreateMacvtap(ctx, &netif.MacvtapConfig{
		Name: cfg.Name, Parent: cfg.Parent, Mode: mode, MAC: mac,
		Owner: netif.Owner{VM: cfg.Owner.VM, NIC: cfg.Owner.NIC}, Netns: h.Netns,
	})
	return err
}

// CreateBridgeTap creates the tap with netif.CreateBridgeTap.
func (h *NetifHost) CreateBridgeTap(ctx context.Context, cfg BridgeTapConfig) error {
	var mac net.HardwareAddr
	if cfg.MAC != "" {
		m, err := net.ParseMAC(cfg.MAC)
		if err != nil {
			return fmt.Errorf("backend: bridge tap %s: %w", cfg.Name, err)
		}
		mac = m
	}
	_, err := netif.CreateBridgeTap(ctx, &netif.BridgeTapConfig{
		Name: cfg.Name, Bridge: cfg.Bridge, MAC: mac, VLAN: cfg.VLAN,
		Owner: netif.Owner{VM: cfg.Owner.VM, NIC: cfg.Owner.NIC}, Netns: h.Netns,
	})
	return err
}

// OpenMacvtap opens the owned macvtap name.
func (h *NetifHost) OpenMacvtap(ctx context.Context, name string) (*os.File, error) {
	links, err := netif.ListOwned(ctx, h.Netns)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if l.Name == name {
			files, err := l.Open(ctx, nil)
			if err != nil {
				return nil, err
			}
			return one(files, name)
		}
	}
	return nil, fmt.Errorf("backend: open macvtap %s: no such nicplug-owned link: %w", name, os.ErrNotExist)
}

// OpenTap opens the tap name (owned or not).
func (h *NetifHost) OpenTap(ctx context.Context, name string) (*os.File, error) {
	files, err := netif.OpenTap(ctx, h.Netns, name, nil)
	if err != nil {
		return nil, err
	}
	return one(files, name)
}

func one(files []*os.File, name string) (*os.File, error) {
	if len(files) != 1 {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("backend: open %s: got %d queues, want 1", name, len(files))
	}
	return files[0], nil
}

// DeleteLink deletes the owned link name; a missing link is an error
// matching os.ErrNotExist that names the namespace.
func (h *NetifHost) DeleteLink(ctx context.Context, name string) error {
	return netif.DeleteLink(ctx, h.Netns, name)
}

// ListOwned lists the owned links of VM vm.
func (h *NetifHost) ListOwned(ctx context.Context, vm string) ([]OwnedLink, error) {
	links, err := netif.ListOwned(ctx, h.Netns)
	if err != nil {
		return nil, err
	}
	var out []OwnedLink
	for _, l := range links {
		if l.Owner.VM == vm {
			out = append(out, OwnedLink{Name: l.Name, Owner: Owner{VM: l.Owner.VM, NIC: l.Owner.NIC},
				Kind: l.Kind, Parent: l.Parent, Mode: l.Mode, Master: l.Master})
		}
	}
	return out, nil
}
