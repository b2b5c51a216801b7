package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// showLive reads the wiring of every NIC nicplug wired without a domain:
// each device peered with its own hub port "np.<id>.nic" (what
// domain.Domain.QEMUArgs emits) and the backends on that hub. The library
// reads state only for a domain's NICs, so this uses qmp and backend
// directly. Link states are unknown: QEMU does not report them.
func showLive(ctx context.Context, e *env, cf *connFlags) (*showOutput, error) {
	log := cf.logger(e)
	c, err := qmp.Dial(ctx, cf.qmp, &qmp.Config{Logger: log})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	status, err := c.QueryStatus(ctx)
	if err != nil {
		return nil, err
	}
	props, err := c.QOMList(ctx, "/machine/peripheral")
	if err != nil {
		return nil, err
	}
	text, err := c.HMP(ctx, "info network")
	if err != nil {
		return nil, err
	}
	ni, err := backend.ParseInfoNetwork(text)
	if err != nil {
		return nil, err
	}
	out := &showOutput{Running: status.Running, NICs: []nicRow{}}
	for _, p := range props {
		if !strings.HasPrefix(p.Type, "child<") {
			continue
		}
		dev := p.Name
		path := "/machine/peripheral/" + dev
		var peer, mac string
		if err := qomString(ctx, c, path, "netdev", &peer); err != nil {
			continue // not a NIC
		}
		if peer != domain.HubPortIDFor(dev) {
			continue // not wired by nicplug
		}
		if err := qomString(ctx, c, path, "mac", &mac); err != nil {
			return nil, err
		}
		out.NICs = append(out.NICs, liveRow(dev, mac, ni))
	}
	return out, nil
}

func qomString(ctx context.Context, c *qmp.Client, path, prop string, out *string) error {
	raw, err := c.QOMGet(ctx, path, prop)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("qom-get %s %s: %w", path, prop, err)
	}
	return nil
}

// liveRow finds dev's hub and the backends on it in `info network`.
func liveRow(dev, mac string, ni *backend.NetworkInfo) nicRow {
	r := nicRow{Device: dev, MAC: mac, Hub: -1, Link: "unknown", Backend: "none"}
	ours := func(name string, role backend.Role) (backend.NetdevID, bool) {
		id, err := backend.ParseNetdevID(name)
		return id, err == nil && id.Device == dev && id.Role == role
	}
	if h, _, ok := ni.Port(domain.HubPortIDFor(dev)); ok {
		r.Hub = h.ID
	}
	attached := map[string]bool{}
	for _, h := range ni.Hubs {
		for _, p := range h.Ports {
			if _, ok := ours(p.Name, backend.RoleBackendPort); !ok {
				continue
			}
			if p.Peer == nil || h.ID != r.Hub || r.Netdev != "" {
				r.Leftovers = append(r.Leftovers, p.Name)
				continue
			}
			id, ok := ours(p.Peer.Name, backend.RoleBackend)
			if !ok {
				r.Leftovers = append(r.Leftovers, p.Name)
				continue
			}
			attached[p.Peer.Name] = true
			r.Netdev, r.Driver, r.Backend = p.Peer.Name, p.Peer.Type, "unknown"
			// A user backend has no parameters: its hash tells it.
			if u := (domain.Backend{Type: domain.TypeUser}); backend.SpecHash(u) == id.Hash {
				r.Backend = u.String()
			}
		}
	}
	for _, c := range ni.Clients {
		if _, ok := ours(c.Name, backend.RoleBackend); ok && !attached[c.Name] {
			r.Leftovers = append(r.Leftovers, c.Name)
		}
	}
	return r
}
