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

// qdiscMark is the classid (6e70:7164, "np":"qd") of a redirect filter
// whose [AddRedirect] also added the ingress qdisc it sits on: the mark
// lives on the host with the filter itself, so the [DelRedirect] of a
// later process (a rollback, a plan after a crash, `nicplug cleanup`)
// knows the qdisc is nicplug's to remove. The classid is otherwise
// unused: the filter's action steals every frame it matches.
var qdiscMark = netlink.MakeHandle(0x6e70, 0x7164)

// AddRedirect makes every frame received on from leave through to, in the
// namespace at netns ("" = the caller's): an ingress qdisc (ffff:) on from,
// added if from has neither it nor a clsact qdisc, and a u32 match-all
// filter for all protocols at [RedirectPriority] whose action is mirred
// egress redirect to to (the Kata Containers "tcfilter" pattern); when it
// adds the qdisc, the filter records that (its classid) for [DelRedirect]. A
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
	err = putRedirect(h, ns, src, dst, added)
	if err != nil && added {
		if derr := h.QdiscDel(q); derr != nil {
			err = errors.Join(err, fmt.Errorf("undo: delete the ingress qdisc of %q: %w", from, derr))
		}
	}
	return err
}

// putRedirect adds or replaces nicplug's filter on src's ingress; a new
// filter is marked when added says nicplug added the qdisc, a replaced
// one keeps its mark.
func putRedirect(h *netlink.Handle, ns *nsRef, src, dst netlink.Link, added bool) error {
	cur, _, err := findRedirect(h, ns, src)
	if err != nil {
		return err
	}
	if cur != nil {
		added = cur.ClassId == qdiscMark
	}
	f := redirectFilter(src.Attrs().Index, dst.Attrs().Index, added)
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
// RedirectPriority u32 match u8 0 0 action mirred egress redirect dev TO`,
// with classid qdiscMark when marked.
func redirectFilter(from, to int, marked bool) *netlink.U32 {
	f := &netlink.U32{
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
	if marked {
		f.ClassId = qdiscMark
	}
	return f
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
// only one and either from is nicplug's or the filter is marked as having
// added the qdisc ([AddRedirect]): an ingress qdisc a foreign device had
// before nicplug's redirect is never removed. No nicplug redirect on from
// is an error matching os.ErrNotExist.
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
	if others == 0 && (owned(src) || cur.ClassId == qdiscMark) {
		q, err := ingressQdisc(h, src)
		if err != nil {
			return err
		}
		// An ingress qdisc holding nicplug's filter alone goes, and the
		// filter with it in one step, so that no crash between the two
		// leaves the qdisc without the mark. A clsact's egress side may
		// be in use: it stays.
		if _, ok := q.(*netlink.Ingress); ok {
			if err := h.QdiscDel(q); err != nil {
				return fmt.Errorf("delete the ingress qdisc of %q: %w", from, err)
			}
			return nil
		}
	}
	// Handle 0 deletes the whole priority: the u32 hash table with its one
	// key, so no empty u32 is left behind.
	del := redirectFilter(src.Attrs().Index, cur.RedirIndex, false)
	if err := h.FilterDel(del); err != nil {
		return fmt.Errorf("delete the redirect filter of %q: %w", from, err)
	}
	return nil
}

// CheckRedirectTarget fails unless dev, in the namespace at netns ("" =
// the caller's), can be joined to the fixed tap tap by a pair of
// redirects ([AddRedirect]) as an ethernet backend: dev exists (else the
// error matches os.ErrNotExist), is not tap itself, carries no nicplug
// owner tag (a fixed tap, macvlan or macvtap of some NIC: the error
// matches os.ErrInvalid), and its ingress holds no filter at
// [RedirectPriority] other than a nicplug redirect to tap (a redirect to
// another device makes dev another NIC's backend). It changes nothing,
// so that a move checks dev before the NIC's link goes down.
func CheckRedirectTarget(ctx context.Context, netns, dev, tap string) error {
	if err := validateRedirect(dev, tap); err != nil {
		return newOpError("check redirect target", dev, err)
	}
	_, err := inNetns(ctx, netns, func(ns *nsRef, h *netlink.Handle) (struct{}, error) {
		l, err := lookup(h, ns, "device", dev)
		if err != nil {
			return struct{}{}, err
		}
		if o, ok := ParseOwner(l.Attrs().Alias); ok {
			return struct{}{}, invalidf("%q in %s is nicplug's own device (NIC %s of VM %s), not an existing interface", dev, ns.name(), o.NIC, o.VM)
		}
		t, err := lookup(h, ns, "tap", tap)
		if err != nil {
			return struct{}{}, err
		}
		r, _, err := findRedirect(h, ns, l)
		if err != nil {
			return struct{}{}, err
		}
		if r != nil && r.RedirIndex != 0 && r.RedirIndex != t.Attrs().Index {
			to := fmt.Sprintf("ifindex %d", r.RedirIndex)
			if tl, err := h.LinkByIndex(r.RedirIndex); err == nil {
				to = fmt.Sprintf("%q", tl.Attrs().Name)
			}
			return struct{}{}, withKind(fmt.Errorf("%q in %s is already redirected to %s by nicplug: it is another NIC's backend", dev, ns.name(), to), unix.EBUSY)
		}
		return struct{}{}, nil
	})
	return newOpError("check redirect target", dev, err)
}
