package domain

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// TapArgs says how QEMU gets a tap-datapath NIC's fixed tap.
type TapArgs struct {
	// Ifname is the tap's name: QEMU opens it itself (script=no), which
	// needs CAP_NET_ADMIN or a tap owned by QEMU's user, and read-write
	// access to /dev/net/tun.
	Ifname string
	// FDs are the tap's queue fds as QEMU inherits them (one per queue,
	// opened with vnet_hdr), e.g. 3 and up for exec.Cmd.ExtraFiles. When
	// set, Ifname is ignored.
	FDs []int
	// VhostFDs are fds of /dev/vhost-net QEMU inherits for a NIC with
	// <driver name='vhost'>, one per queue pair (vhostfd=/vhostfds=), so
	// that QEMU need not open /dev/vhost-net itself; only with FDs.
	// Empty means QEMU opens it (vhost=on).
	VhostFDs []int
}

// TapNetdevIDFor is the netdev id of a tap-datapath NIC's fixed tap, the
// NIC's peer for its whole life: "np.<device id>.tap".
func TapNetdevIDFor(deviceID string) string { return "np." + deviceID + ".tap" }

// PeerID is the netdev id of the NIC's peer for its whole life: its hub
// port on the hub datapath, its fixed tap on the tap datapath.
func (n *NIC) PeerID() string {
	if n.Datapath() == DatapathTap {
		return TapNetdevIDFor(n.DeviceID())
	}
	return n.HubPortID()
}

// tapNetdevJSON is the -netdev of a fixed tap. Field order is output order.
type tapNetdevJSON struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Ifname     string `json:"ifname,omitempty"`
	Script     string `json:"script,omitempty"`
	Downscript string `json:"downscript,omitempty"`
	FD         string `json:"fd,omitempty"`
	FDs        string `json:"fds,omitempty"`
	VnetHdr    *bool  `json:"vnet_hdr,omitempty"`
	Queues     int    `json:"queues,omitempty"`
	Vhost      *bool  `json:"vhost,omitempty"`
	VhostFD    string `json:"vhostfd,omitempty"`
	VhostFDs   string `json:"vhostfds,omitempty"`
}

// tapNetdev returns the -netdev of n's fixed tap as t says.
func tapNetdev(n *NIC, t TapArgs, ok bool) (string, error) {
	q := n.Queues()
	nd := tapNetdevJSON{Type: "tap", ID: n.PeerID()}
	if len(t.FDs) == 0 && len(t.VhostFDs) > 0 {
		return "", fmt.Errorf("vhost-net fds were given without tap fds: give both, or neither (QEMU then opens both itself)")
	}
	switch {
	case len(t.FDs) > 0:
		if len(t.FDs) != q {
			return "", fmt.Errorf("the NIC has %d queues but %d tap fds were given", q, len(t.FDs))
		}
		fds, err := fdList("tap", t.FDs)
		if err != nil {
			return "", err
		}
		// QEMU takes the queue count and vnet_hdr from the fds.
		if q == 1 {
			nd.FD = fds
		} else {
			nd.FDs = fds
		}
		if len(t.VhostFDs) > 0 {
			if !n.Vhost() {
				return "", fmt.Errorf("vhost-net fds were given for a NIC without <driver name='vhost'>")
			}
			if len(t.VhostFDs) != q {
				return "", fmt.Errorf("the NIC has %d queues but %d vhost-net fds were given", q, len(t.VhostFDs))
			}
			vfds, err := fdList("vhost-net", t.VhostFDs)
			if err != nil {
				return "", err
			}
			if q == 1 {
				nd.VhostFD = vfds
			} else {
				nd.VhostFDs = vfds
			}
		}
	case ok && t.Ifname != "":
		if err := checkIfname("tap ifname", t.Ifname); err != nil {
			return "", err
		}
		on := true
		nd.Ifname, nd.Script, nd.Downscript, nd.VnetHdr = t.Ifname, "no", "no", &on
		if q > 1 {
			nd.Queues = q
		}
	default:
		return "", fmt.Errorf("the NIC is on the tap datapath (<driver name='vhost'> or queues > 1) and no tap was given for it (ArgsOptions.Taps; nicplug.PrepareTaps creates it)")
	}
	if n.Vhost() {
		on := true
		nd.Vhost = &on
	}
	b, err := json.Marshal(nd)
	return string(b), err
}

// fdList is fds as QEMU's fds= takes them: "3:4:5".
func fdList(what string, fds []int) (string, error) {
	out := make([]string, len(fds))
	for i, fd := range fds {
		if fd < 0 {
			return "", fmt.Errorf("%s fd %d is invalid", what, fd)
		}
		out[i] = strconv.Itoa(fd)
	}
	return strings.Join(out, ":"), nil
}
