package backend

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/nicplug/nicplug/netif"
)

var _ TapHost = (*NetifHost)(nil)

// CreateFixedTap creates the fixed tap with netif.CreateFixedTap.
func (h *NetifHost) CreateFixedTap(ctx context.Context, cfg FixedTapConfig) error {
	var mac net.HardwareAddr
	if cfg.MAC != "" {
		m, err := net.ParseMAC(cfg.MAC)
		if err != nil {
			return fmt.Errorf("backend: fixed tap %s: %w", cfg.Name, err)
		}
		mac = m
	}
	_, err := netif.CreateFixedTap(ctx, &netif.FixedTapConfig{
		Name: cfg.Name, MAC: mac, Queues: cfg.Queues, UID: cfg.UID, GID: cfg.GID,
		Owner: netif.Owner{VM: cfg.Owner.VM, NIC: cfg.Owner.NIC}, Netns: h.Netns,
	})
	return err
}

// UpdateFixedTap brings the existing fixed tap in line with cfg with
// netif.UpdateFixedTap.
func (h *NetifHost) UpdateFixedTap(ctx context.Context, cfg FixedTapConfig) error {
	return netif.UpdateFixedTap(ctx, &netif.FixedTapConfig{
		Name: cfg.Name, Queues: cfg.Queues, UID: cfg.UID, GID: cfg.GID,
		Owner: netif.Owner{VM: cfg.Owner.VM, NIC: cfg.Owner.NIC}, Netns: h.Netns,
	})
}

// OpenTapQueues opens queues queues of the tap name with vnet_hdr
// (netif.OpenTap). A multi-queue tap opens with any number of queues, a
// single-queue one with 1 only.
func (h *NetifHost) OpenTapQueues(ctx context.Context, name string, queues int) ([]*os.File, error) {
	if queues < 1 {
		return nil, fmt.Errorf("backend: open tap %s: %d queues, want at least 1: %w", name, queues, os.ErrInvalid)
	}
	return netif.OpenTap(ctx, h.Netns, name, &netif.OpenOptions{Queues: queues, VnetHdr: true})
}

// TapPlug reads back what the tap name is plugged into (netif.ReadTapPlug).
func (h *NetifHost) TapPlug(ctx context.Context, name string) (TapPlug, error) {
	p, err := netif.ReadTapPlug(ctx, h.Netns, name)
	if err != nil {
		return TapPlug{}, err
	}
	out := TapPlug{Master: p.Master, VLAN: p.VLAN, DefaultPVID: p.DefaultPVID, Redirect: p.Redirect, Back: p.Back}
	for _, v := range p.VLANs {
		out.VLANs = append(out.VLANs, v.String())
	}
	return out, nil
}

// SetMaster moves the owned link with netif.SetMaster.
func (h *NetifHost) SetMaster(ctx context.Context, link, bridge string) error {
	return netif.SetMaster(ctx, h.Netns, link, bridge)
}

// CheckBridge checks the bridge with netif.CheckBridge.
func (h *NetifHost) CheckBridge(ctx context.Context, bridge string, vlans bool) error {
	return netif.CheckBridge(ctx, h.Netns, bridge, vlans)
}

// CheckRedirectTarget checks an ethernet backend's interface with
// netif.CheckRedirectTarget.
func (h *NetifHost) CheckRedirectTarget(ctx context.Context, dev, tap string) error {
	return netif.CheckRedirectTarget(ctx, h.Netns, dev, tap)
}

// SetAccessVLAN sets the owned port's VLAN with netif.SetAccessVLAN.
func (h *NetifHost) SetAccessVLAN(ctx context.Context, link string, vlan int) error {
	return netif.SetAccessVLAN(ctx, h.Netns, link, vlan)
}

// CreateMacvlan creates the macvlan with netif.CreateMacvlan.
func (h *NetifHost) CreateMacvlan(ctx context.Context, cfg MacvlanConfig) error {
	mode, err := netif.ParseMacvtapMode(cfg.Mode)
	if err != nil {
		return err
	}
	mac, err := net.ParseMAC(cfg.MAC)
	if err != nil {
		return fmt.Errorf("backend: macvlan %s: %w", cfg.Name, err)
	}
	_, err = netif.CreateMacvlan(ctx, &netif.MacvlanConfig{
		Name: cfg.Name, Parent: cfg.Parent, Mode: mode, MAC: mac,
		Owner: netif.Owner{VM: cfg.Owner.VM, NIC: cfg.Owner.NIC}, Netns: h.Netns,
	})
	return err
}

// AddRedirect redirects from's ingress to to with netif.AddRedirect.
func (h *NetifHost) AddRedirect(ctx context.Context, from, to string) error {
	return netif.AddRedirect(ctx, h.Netns, from, to)
}

// DelRedirect removes nicplug's redirect from from with netif.DelRedirect.
func (h *NetifHost) DelRedirect(ctx context.Context, from string) error {
	return netif.DelRedirect(ctx, h.Netns, from)
}
