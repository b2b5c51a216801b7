package netif

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// nameAttempts bounds the retries of a generated name that already exists.
const nameAttempts = 8

// defaultTxQLen is used when the parent reports none. A macvtap's queue
// length is the size of each queue's ring: zero drops every frame.
const defaultTxQLen = 1000

var macvlanModes = [...]netlink.MacvlanMode{
	MacvtapVEPA:     netlink.MACVLAN_MODE_VEPA,
	MacvtapBridge:   netlink.MACVLAN_MODE_BRIDGE,
	MacvtapPrivate:  netlink.MACVLAN_MODE_PRIVATE,
	MacvtapPassthru: netlink.MACVLAN_MODE_PASSTHRU,
}

// randomName returns prefix plus 8 random hex digits.
func randomName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return prefix + hex.EncodeToString(b[:])
}

// linkConfig is a config that creates one named link.
type linkConfig interface {
	validate() error
	// linkName is the name asked for ("" = generated); nil-safe.
	linkName() string
}

func (c *MacvtapConfig) linkName() string {
	if c == nil {
		return ""
	}
	return c.Name
}

func (c *BridgeTapConfig) linkName() string {
	if c == nil {
		return ""
	}
	return c.Name
}

// create validates cfg and runs create, reporting errors as op's.
func create[C linkConfig](ctx context.Context, op string, cfg C, create func(context.Context, C) (*Link, error)) (*Link, error) {
	if err := cfg.validate(); err != nil {
		return nil, newOpError(op, cfg.linkName(), err)
	}
	l, err := create(ctx, cfg)
	if err != nil {
		return nil, newOpError(op, cfg.linkName(), err)
	}
	return l, nil
}

// addNamed calls add with the name fixed, or, when fixed is "", with fresh
// names of prefix until add succeeds or fails for another reason than a
// taken name (taken reports that), at most nameAttempts times. It returns
// the name added.
func addNamed(ctx context.Context, ns *nsRef, fixed, prefix string, taken func(error) bool, add func(name string) error) (string, error) {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		name := fixed
		if name == "" {
			name = randomName(prefix)
		}
		err := add(name)
		switch {
		case err == nil:
			return name, nil
		case !taken(err):
			return "", err
		case fixed == "" && attempt < nameAttempts:
			continue
		}
		return "", withKind(fmt.Errorf("a device named %q already exists in %s: %w", name, ns.name(), err), unix.EEXIST)
	}
}

// undoAdd deletes the link name added before err, joining a failure to err.
func undoAdd(h *netlink.Handle, name string, err error) error {
	nl, lerr := h.LinkByName(name)
	if lerr != nil {
		return err // gone already
	}
	if derr := h.LinkDel(nl); derr != nil && !linkNotFound(derr) {
		err = errors.Join(err, fmt.Errorf("undo: delete %q: %w", name, derr))
	}
	return err
}

// CreateMacvtap creates a macvtap as cfg says, tagged as nicplug's and up.
// On error nothing is left behind.
func CreateMacvtap(ctx context.Context, cfg *MacvtapConfig) (*Link, error) {
	return create(ctx, "create macvtap", cfg, createMacvtap)
}

func createMacvtap(ctx context.Context, cfg *MacvtapConfig) (*Link, error) {
	return createOnParent(ctx, lowerLink{
		kind: KindMacvtap, prefix: MacvtapPrefix, netns: cfg.Netns, name: cfg.Name, parent: cfg.Parent,
		mode: cfg.Mode, mac: cfg.MAC, owner: cfg.Owner,
		newLink: func(m netlink.Macvlan) netlink.Link { return &netlink.Macvtap{Macvlan: m} },
		explain: func(name string, err error) error {
			if errors.Is(err, unix.EBUSY) && cfg.Mode == MacvtapPassthru {
				return fmt.Errorf("parent %q already has a macvtap/macvlan (passthrough needs it alone): %w", cfg.Parent, err)
			}
			return nil
		},
	})
}

// lowerLink is a macvtap or macvlan to create on a parent.
type lowerLink struct {
	kind, prefix, netns, name, parent string
	mode                              MacvtapMode
	mac                               net.HardwareAddr
	owner                             Owner
	// newLink wraps the link's attributes as the kind to add.
	newLink func(netlink.Macvlan) netlink.Link
	// explain returns a clearer error for a refused add, nil for none.
	explain func(name string, err error) error
}

// createOnParent creates the macvtap or macvlan ll describes, tagged as
// nicplug's and up, with the parent's queue length. On error nothing is
// left behind.
func createOnParent(ctx context.Context, ll lowerLink) (*Link, error) {
	return inNetns(ctx, ll.netns, func(ns *nsRef, h *netlink.Handle) (*Link, error) {
		parent, err := lookup(h, ns, "parent", ll.parent)
		if err != nil {
			return nil, err
		}
		qlen := parent.Attrs().TxQLen
		if qlen <= 0 {
			qlen = defaultTxQLen
		}
		name, err := addNamed(ctx, ns, ll.name, ll.prefix, isErrno(unix.EEXIST), func(name string) error {
			la := netlink.NewLinkAttrs()
			la.Name = name
			la.ParentIndex = parent.Attrs().Index
			la.HardwareAddr = ll.mac
			la.TxQLen = qlen
			la.Alias = ll.owner.String()
			la.Flags = net.FlagUp
			err := h.LinkAdd(ll.newLink(netlink.Macvlan{LinkAttrs: la, Mode: macvlanModes[ll.mode]}))
			if err == nil || errors.Is(err, unix.EEXIST) {
				return err
			}
			if e := ll.explain(name, err); e != nil {
				return e
			}
			return fmt.Errorf("add %q on parent %q: %w", name, ll.parent, err)
		})
		if err != nil {
			return nil, err
		}
		l, err := finishLink(h, name, ll.owner, ll.mac)
		if err != nil {
			return nil, undoAdd(h, name, err)
		}
		l.Netns, l.Kind, l.Parent = ll.netns, ll.kind, ll.parent
		return l, nil
	})
}

// isErrno returns a function reporting whether an error is errno.
func isErrno(errno unix.Errno) func(error) bool {
	return func(err error) bool { return errors.Is(err, errno) }
}

// finishLink makes sure a freshly created link carries the owner tag, MAC
// and a non-zero queue length, is up, and returns it as a *Link.
func finishLink(h *netlink.Handle, name string, owner Owner, mac net.HardwareAddr) (*Link, error) {
	nl, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("read back %q: %w", name, err)
	}
	a := nl.Attrs()
	if a.Alias != owner.String() {
		if err := h.LinkSetAlias(nl, owner.String()); err != nil {
			return nil, fmt.Errorf("tag %q: %w", name, err)
		}
	}
	if mac != nil && a.HardwareAddr.String() != mac.String() {
		// Passthrough macvtaps start with the parent's MAC; setting theirs
		// sets the parent's (what passthrough means).
		if err := h.LinkSetHardwareAddr(nl, mac); err != nil {
			return nil, fmt.Errorf("set MAC of %q to %s: %w", name, mac, err)
		}
	}
	if a.TxQLen <= 0 {
		if err := h.LinkSetTxQLen(nl, defaultTxQLen); err != nil {
			return nil, fmt.Errorf("set tx queue length of %q: %w", name, err)
		}
	}
	if a.Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(nl); err != nil {
			return nil, fmt.Errorf("bring %q up: %w", name, err)
		}
	}
	return &Link{
		Name:  name,
		Index: a.Index,
		Owner: owner,
		MAC:   append(net.HardwareAddr(nil), mac...),
	}, nil
}
