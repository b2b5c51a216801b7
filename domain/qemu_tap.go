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
}

// tapNetdev returns the -netdev of n's fixed tap as t says.
func tapNetdev(n *NIC, t TapArgs, ok bool) (string, error) {
	q := n.Queues()
	nd := tapNetdevJSON{Type: "tap", ID: n.PeerID()}
	switch {
	case len(t.FDs) > 0:
		if len(t.FDs) != q {
			return "", fmt.Errorf("the NIC has %d queues but %d tap fds were given", q, len(t.FDs))
		}
		fds := make([]string, len(t.FDs))
		for i, fd := range t.FDs {
			if fd < 0 {
				return "", fmt.Errorf("tap fd %d is invalid", fd)
			}
			fds[i] = strconv.Itoa(fd)
		}
		// QEMU takes the queue count and vnet_hdr from the fds.
		if q == 1 {
			nd.FD = fds[0]
		} else {
			nd.FDs = strings.Join(fds, ":")
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
