package nicplug

import (
	"net/netip"
	"strings"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// liveRead is what readWiring also reports for [LiveDomain].
type liveRead struct {
	// types is the QOM type of each device in /machine/peripheral.
	types map[string]string
	// info is what `info network` says of each netdev after its type
	// (backend.Client.Info), by netdev id.
	info map[string]string
}

func newLiveRead() *liveRead {
	return &liveRead{types: map[string]string{}, info: map[string]string{}}
}

// readInfo records what ni says of every netdev.
func (lr *liveRead) readInfo(ni *backend.NetworkInfo) {
	for _, h := range ni.Hubs {
		for _, p := range h.Ports {
			if p.Peer != nil {
				lr.info[p.Peer.Name] = p.Peer.Info
			}
		}
	}
	for _, c := range ni.Clients {
		lr.info[c.Name] = c.Info
	}
}

// socketSpecs returns the spec a socket netdev's `info network` text tells,
// nil when it tells none. QEMU (7.2 and 10.0 alike) prints a client's
// remote end ("socket: connect to 127.0.0.1:5555") and a multicast
// group ("socket: mcast=230.0.0.1:5558", not its local address, so a spec
// with <local> does not match the id's hash and stays unknown); for a
// server it prints nothing until a peer connects, then the peer, and for
// udp the remote end without the local one: those cannot be rebuilt.
// Addresses are printed numerically, so a spec naming a host does not
// match either.
func socketSpecs(info string) []domain.Backend {
	for _, k := range []struct {
		prefix string
		typ    domain.BackendType
	}{{"socket: connect to ", domain.TypeClient}, {"socket: mcast=", domain.TypeMcast}} {
		rest, ok := strings.CutPrefix(info, k.prefix)
		if !ok {
			continue
		}
		ap, err := netip.ParseAddrPort(rest)
		if err != nil || !ap.Addr().Is4() {
			return nil
		}
		return []domain.Backend{{Type: k.typ, Address: ap.Addr().String(), Port: int(ap.Port())}}
	}
	return nil
}
