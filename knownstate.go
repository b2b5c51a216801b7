package nicplug

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// How a plan applied without error changes what the VM knows of QEMU.
//
// A plan's QMP steps are nicplug's own netdev_add and netdev_del of its own
// ids, and commands that change no netdev (set_link, getfd, closefd,
// query-rx-filter, announce-self, cont). So once a plan ran without error,
// what `info network` shows of the VM's NICs follows from what it showed
// before and from the steps: [trackQMP] replays them on what the VM knows.
// The next plan is computed from that, and checked against QEMU when it is
// applied (see readcache.go): a replay that went wrong costs a re-plan,
// never a wrong change.

// trackQMP applies the effect of QMP action a on the netdevs of st's NICs
// and reports whether it could tell what that effect is.
func trackQMP(st *State, a Action) bool {
	switch a.Command {
	case "set_link", "getfd", "closefd", "query-rx-filter", "announce-self", "cont", "stop":
		return true
	case "netdev_add", "netdev_del":
	default:
		return false
	}
	var args struct {
		Type   string `json:"type"`
		ID     string `json:"id"`
		Netdev string `json:"netdev"`
		HubID  *int   `json:"hubid"`
	}
	if err := json.Unmarshal(a.Args, &args); err != nil {
		return false
	}
	id, err := backend.ParseNetdevID(args.ID)
	if err != nil {
		return false
	}
	ns, ok := st.NIC(id.Device)
	if !ok || ns.Datapath == domain.DatapathTap {
		return false
	}
	if a.Command == "netdev_add" {
		ok = addNetdev(ns, id, args.Type, args.Netdev, args.HubID)
	} else {
		ok = delNetdev(ns, id)
	}
	sortNetdevs(ns)
	return ok
}

// addNetdev records a backend (standalone until its port joins the hub) or
// a backend's hub port.
func addNetdev(ns *NICState, id backend.NetdevID, typ, netdev string, hub *int) bool {
	switch id.Role {
	case backend.RoleBackend:
		if typ == "" || typ == "hubport" || slices.ContainsFunc(ns.Backends, func(b BackendState) bool { return b.ID == id.String() }) {
			return false
		}
		ns.Backends = append(ns.Backends, BackendState{ID: id.String(), Driver: typ})
		return true
	case backend.RoleBackendPort:
		i := slices.IndexFunc(ns.Backends, func(b BackendState) bool { return b.ID == netdev })
		peer, err := backend.ParseNetdevID(netdev)
		if typ != "hubport" || hub == nil || *hub != ns.Hub || i < 0 || ns.Backends[i].Port != "" ||
			err != nil || peer.Role != backend.RoleBackend || peer.Device != id.Device || peer.Gen != id.Gen {
			return false
		}
		ns.Backends[i].Port = id.String()
		return true
	}
	return false
}

// delNetdev removes a hub port (its backend is standalone then) or a
// backend (a port still peered with it becomes a stray).
func delNetdev(ns *NICState, id backend.NetdevID) bool {
	name := id.String()
	switch id.Role {
	case backend.RoleBackendPort:
		if i := slices.IndexFunc(ns.Backends, func(b BackendState) bool { return b.Port == name }); i >= 0 {
			ns.Backends[i].Port = ""
			return true
		}
		if i := slices.Index(ns.StrayPorts, name); i >= 0 {
			ns.StrayPorts = slices.Delete(ns.StrayPorts, i, i+1)
			return true
		}
	case backend.RoleBackend:
		if i := slices.IndexFunc(ns.Backends, func(b BackendState) bool { return b.ID == name }); i >= 0 {
			if p := ns.Backends[i].Port; p != "" {
				ns.StrayPorts = append(ns.StrayPorts, p)
			}
			ns.Backends = slices.Delete(ns.Backends, i, i+1)
			return true
		}
	}
	return false
}

// sortNetdevs puts a NIC's backends newest first and its stray ports in
// name order, as a read-back lists them.
func sortNetdevs(ns *NICState) {
	slices.SortFunc(ns.Backends, func(a, b BackendState) int {
		ia, _ := backend.ParseNetdevID(a.ID)
		ib, _ := backend.ParseNetdevID(b.ID)
		return cmp.Or(cmp.Compare(ib.Gen, ia.Gen), strings.Compare(a.ID, b.ID))
	})
	slices.Sort(ns.StrayPorts)
}

// sameNetdevs reports whether QEMU (got, from `info network`) shows every
// NIC of want peered and with the netdevs want says, and names the first
// NIC that differs.
func sameNetdevs(got, want *State) (string, bool) {
	if len(got.NICs) != len(want.NICs) {
		return "the number of NICs", false
	}
	for i := range want.NICs {
		g, w := &got.NICs[i], &want.NICs[i]
		if g.Device != w.Device || g.MAC != w.MAC || g.Peer != w.Peer || g.Hub != w.Hub || g.Datapath != w.Datapath ||
			!slices.Equal(g.Backends, w.Backends) || !slices.Equal(g.StrayPorts, w.StrayPorts) {
			return w.Device, false
		}
	}
	return "", true
}
