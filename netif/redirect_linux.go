package netif

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ingressHandle is the ingress qdisc's handle, ffff:.
var ingressHandle = netlink.MakeHandle(0xffff, 0)

// AddRedirect makes every frame received on from leave through to, in the
// namespace at netns ("" = the caller's): an ingress qdisc (ffff:) on from,
// added if from has neither it nor a clsact qdisc, and a u32 match-all
// filter for all protocols at [RedirectPriority] whose action is mirred
// egress redirect to to (the Kata Containers "tcfilter" pattern). A
// nicplug redirect already on from is replaced in place (tc filter
// replace): frames go to the old target until they go to the new one,
// never nowhere. from may be a device nicplug does not own (an existing
// interface redirected to a tap); to or from must be nicplug's, else the
// error matches [ErrNotOwned]. On error, a qdisc AddRedirect added is
// deleted again.
func AddRedirect(ctx context.Context, netns, from, to string) error {
	if err := validateRedirect(from, to); err != nil {
		return newOpError("add redirect", from, err)
	}
	_, err := inNetns(ctx, netns, func(ns *nsRef, h *netlink.Handle) (struct{}, error) {
		return struct{}{}, addRedirect(h, ns, from, to)
	})
	return newOpError("add redirect", from, err)
}

func validateRedirect(from, to string) error {
	if err := validateName("source device", from); err != nil {
		return err
	}
	if err := validateName("target device", to); err != nil {
		return err
	}
	if from == to {
		return invalidf("cannot redirect %q to itself", from)
	}
	return nil
}

func owned(l netlink.Link) bool {
	_, ok := ParseOwner(l.Attrs().Alias)
	return ok
}

func addRedirect(h *netlink.Handle, ns *nsRef, from, to string) error {
	src, err := lookup(h, ns, "source device", from)
	if err != nil {
		return err
	}
	dst, err := lookup(h, ns, "target device", to)
	if err != nil {
		return err
	}
	if !owned(src) && !owned(dst) {
		return fmt.Errorf("neither %q nor %q in %s carries nicplug's tag: %w: refusing to redirect between two foreign devices", from, to, ns.name(), ErrNotOwned)
	}
	q, err := ingressQdisc(h, src)
	if err != nil {
		return err
	}
	added := false
	if q == nil {
		q = &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: src.Attrs().Index, Parent: netlink.HANDLE_INGRESS, Handle: ingressHandle}}
		if err := h.QdiscAdd(q); err != nil {
			return fmt.Errorf("add ingress qdisc to %q: %w", from, err)
		}
		added = true
	}
	err = putRedirect(h, ns, src, dst)
	if err != nil && added {
		if derr := h.QdiscDel(q); derr != nil {
			err = errors.Join(err, fmt.Errorf("undo: delete the ingress qdisc of %q: %w", from, derr))
		}
	}
	return err
}

// putRedirect adds or replaces nicplug's filter on src's ingress.
func putRedirect(h *netlink.Handle, ns *nsRef, src, dst netlink.Link) error {
	cur, _, err := findRedirect(h, ns, src)
	if err != nil {
		return err
	}
	f := redirectFilter(src.Attrs().Index, dst.Attrs().Index)
	if cur == nil {
		if err := h.FilterAdd(f); err != nil {
			return fmt.Errorf("add redirect filter %q → %q: %w", src.Attrs().Name, dst.Attrs().Name, err)
		}
		return nil
	}
	if cur.RedirIndex == dst.Attrs().Index {
		return nil
	}
	f.Handle = cur.Handle
	if err := h.FilterReplace(f); err != nil {
		return fmt.Errorf("replace redirect filter of %q with one to %q: %w", src.Attrs().Name, dst.Attrs().Name, err)
	}
	return nil
}

// redirectFilter is `tc filter add dev FROM ingress protocol all pref
// RedirectPriority u32 match u8 0 0 action mirred egress redirect dev TO`.
func redirectFilter(from, to int) *netlink.U32 {
	return &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: from,
			Parent:    netlink.HANDLE_MIN_INGRESS,
			Priority:  RedirectPriority,
			Protocol:  unix.ETH_P_ALL,
		},
		// A nil Sel is netlink's match-all selector: one zero key, terminal.
		Actions: []netlink.Action{&netlink.MirredAction{
			ActionAttrs:  netlink.ActionAttrs{Action: netlink.TC_ACT_STOLEN},
			MirredAction: netlink.TCA_EGRESS_REDIR,
			Ifindex:      to,
		}},
	}
}

// ingressQdisc returns l's ingress or clsact qdisc, nil if it has none.
func ingressQdisc(h *netlink.Handle, l netlink.Link) (netlink.Qdisc, error) {
	qs, err := h.QdiscList(l)
	if err != nil {
		return nil, fmt.Errorf("list qdiscs of %q: %w", l.Attrs().Name, err)
	}
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_INGRESS {
			return q, nil
		}
	}
	return nil, nil
}

// findRedirect returns nicplug's redirect filter on l's ingress (nil if
// there is none, or no ingress qdisc) and how many other filters the
// ingress holds. A filter at RedirectPriority that is not a nicplug
// redirect is an error.
func findRedirect(h *netlink.Handle, ns *nsRef, l netlink.Link) (*netlink.U32, int, error) {
	q, err := ingressQdisc(h, l)
	if err != nil || q == nil {
		return nil, 0, err
	}
	fs, err := h.FilterList(l, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return nil, 0, fmt.Errorf("list ingress filters of %q: %w", l.Attrs().Name, err)
	}
	var (
		ours   *netlink.U32
		others int
	)
	for _, f := range fs {
		a := f.Attrs()
		if a.Priority != RedirectPriority {
			others++
			continue
		}
		u, ok := f.(*netlink.U32)
		if !ok || ours != nil || a.Protocol != unix.ETH_P_ALL || len(u.Actions) != 1 {
			return nil, 0, fmt.Errorf("ingress of %q in %s: priority %d, nicplug's, holds a %s filter that is not nicplug's redirect", l.Attrs().Name, ns.name(), RedirectPriority, f.Type())
		}
		m, ok := u.Actions[0].(*netlink.MirredAction)
		if !ok || m.MirredAction != netlink.TCA_EGRESS_REDIR {
			return nil, 0, fmt.Errorf("ingress of %q in %s: the u32 filter at priority %d, nicplug's, has a %s action, not a mirred egress redirect", l.Attrs().Name, ns.name(), RedirectPriority, u.Actions[0].Type())
		}
		ours = u
	}
	return ours, others, nil
}

// DelRedirect removes nicplug's redirect filter from from's ingress in the
// namespace at netns, and the ingress qdisc too when that filter was its
// only one and from is nicplug's: the ingress qdisc of a device nicplug
// does not own is never removed. No nicplug redirect on from is an error
// matching os.ErrNotExist.
func DelRedirect(ctx context.Context, netns, from string) error {
	if err := validateName("source device", from); err != nil {
		return newOpError("delete redirect", from, err)
	}
	_, err := inNetns(ctx, netns, func(ns *nsRef, h *netlink.Handle) (struct{}, error) {
		return struct{}{}, delRedirect(h, ns, from)
	})
	return newOpError("delete redirect", from, err)
}

func delRedirect(h *netlink.Handle, ns *nsRef, from string) error {
	src, err := lookup(h, ns, "source device", from)
	if err != nil {
		return err
	}
	cur, others, err := findRedirect(h, ns, src)
	if err != nil {
		return err
	}
	if cur == nil {
		return notFoundf("no nicplug redirect on the ingress of %q in %s", from, ns.name())
	}
	// Handle 0 deletes the whole priority: the u32 hash table with its one
	// key, so no empty u32 is left behind.
	del := redirectFilter(src.Attrs().Index, cur.RedirIndex)
	if err := h.FilterDel(del); err != nil {
		return fmt.Errorf("delete the redirect filter of %q: %w", from, err)
	}
	if others > 0 || !owned(src) {
		return nil
	}
	q, err := ingressQdisc(h, src)
	if err != nil || q == nil {
		return err
	}
	if _, ok := q.(*netlink.Ingress); !ok {
		return nil // clsact: its egress side may be in use
	}
	if err := h.QdiscDel(q); err != nil {
		return fmt.Errorf("delete the ingress qdisc of %q: %w", from, err)
	}
	return nil
}
