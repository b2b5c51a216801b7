package backend

import (
	"fmt"
	"strconv"
	"strings"
)

// NetworkInfo is the parsed output of the HMP command `info network`.
type NetworkInfo struct {
	// Hubs are QEMU's hubs in the order printed (newest first).
	Hubs []Hub
	// Clients are the net clients not on a hub: NICs (with their peer, if
	// any) and standalone netdevs.
	Clients []Client
}

// Hub is one QEMU hub.
type Hub struct {
	// ID is the hub id (hubid=).
	ID int
	// Ports are its hub ports in the order printed (newest first).
	Ports []HubPort
}

// HubPort is a port of a hub and the net client peered with it, if any.
type HubPort struct {
	// Name is the hub port's netdev id.
	Name string
	// Peer is the net client on the other side (a NIC or a backend), nil
	// when the port is unconnected.
	Peer *Client
}

// Client is one net client line: "name: index=I,type=T,info".
type Client struct {
	// Name is the netdev id, or the device id for a NIC.
	Name string
	// Index is the queue index.
	Index int
	// Type is the client driver: nic, tap, user, socket, hubport, …
	Type string
	// Info is the rest of the line (driver-specific).
	Info string
	// Peer is the client's peer for a top-level NIC printed with it.
	Peer *Client
}

// Port returns the hub and port named name, if any.
func (ni *NetworkInfo) Port(name string) (*Hub, *HubPort, bool) {
	for i := range ni.Hubs {
		h := &ni.Hubs[i]
		for j := range h.Ports {
			if h.Ports[j].Name == name {
				return h, &h.Ports[j], true
			}
		}
	}
	return nil, nil, false
}

// Client returns the top-level client named name, if any.
func (ni *NetworkInfo) Client(name string) (*Client, bool) {
	for i := range ni.Clients {
		if ni.Clients[i].Name == name {
			return &ni.Clients[i], true
		}
	}
	return nil, false
}

// ParseInfoNetwork parses the text QEMU prints for `info network` (checked
// against QEMU 7.2 and 10.0; "\r\n" and "\n" line ends both work). Filter lines are
// skipped. An unrecognized line is an error naming it.
func ParseInfoNetwork(text string) (*NetworkInfo, error) {
	ni := &NetworkInfo{}
	const (
		top = iota
		inHub
		afterClient
	)
	state := top
	for n, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		bad := func(why string) (*NetworkInfo, error) {
			return nil, fmt.Errorf("backend: info network line %d %q: %s", n+1, line, why)
		}
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "hub "):
			id, err := strconv.Atoi(strings.TrimPrefix(line, "hub "))
			if err != nil {
				return bad("bad hub id")
			}
			ni.Hubs = append(ni.Hubs, Hub{ID: id})
			state = inHub
		case strings.HasPrefix(line, ` \ `):
			rest := strings.TrimPrefix(line, ` \ `)
			switch state {
			case inHub:
				h := &ni.Hubs[len(ni.Hubs)-1]
				name, peer, hasPeer := strings.Cut(rest, ": ")
				p := HubPort{Name: name}
				if hasPeer {
					c, err := parseClient(peer)
					if err != nil {
						return bad(err.Error())
					}
					p.Peer = &c
				}
				h.Ports = append(h.Ports, p)
			case afterClient:
				c, err := parseClient(rest)
				if err != nil {
					return bad(err.Error())
				}
				ni.Clients[len(ni.Clients)-1].Peer = &c
				state = top
			default:
				return bad("peer line with nothing before it")
			}
		case line == "filters:" || strings.HasPrefix(line, "  - "):
			continue
		default:
			c, err := parseClient(line)
			if err != nil {
				return bad(err.Error())
			}
			ni.Clients = append(ni.Clients, c)
			state = afterClient
		}
	}
	return ni, nil
}

// parseClient parses "name: index=I,type=T[,info]".
func parseClient(s string) (Client, error) {
	name, rest, ok := strings.Cut(s, ": index=")
	if !ok || name == "" {
		return Client{}, fmt.Errorf("not a net client")
	}
	idx, rest, _ := strings.Cut(rest, ",")
	i, err := strconv.Atoi(idx)
	if err != nil {
		return Client{}, fmt.Errorf("bad queue index %q", idx)
	}
	rest, ok = strings.CutPrefix(rest, "type=")
	if !ok {
		return Client{}, fmt.Errorf("no type")
	}
	typ, info, _ := strings.Cut(rest, ",")
	return Client{Name: name, Index: i, Type: typ, Info: strings.TrimSpace(info)}, nil
}
