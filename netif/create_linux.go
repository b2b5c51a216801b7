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

// CreateMacvtap creates a macvtap as cfg says, tagged as nicplug's and up.
// On error nothing is left behind.
func CreateMacvtap(ctx context.Context, cfg *MacvtapConfig) (*Link, error) {
	const op = "create macvtap"
	if err := cfg.validate(); err != nil {
		name := ""
		if cfg != nil {
			name = cfg.Name
		}
		return nil, newOpError(op, name, err)
	}
	l, err := createMacvtap(ctx, cfg)
	if err != nil {
		return nil, newOpError(op, cfg.Name, err)
	}
	return l, nil
}

func createMacvtap(ctx context.Context, cfg *MacvtapConfig) (*Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ns, err := openNetns(cfg.Netns)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := ns.handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	parent, err := lookup(h, ns, "parent", cfg.Parent)
	if err != nil {
		return nil, err
	}
	qlen := parent.Attrs().TxQLen
	if qlen <= 0 {
		qlen = defaultTxQLen
	}

	var mv *netlink.Macvtap
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := cfg.Name
		if name == "" {
			name = randomName(MacvtapPrefix)
		}
		la := netlink.NewLinkAttrs()
		la.Name = name
		la.ParentIndex = parent.Attrs().Index
		la.HardwareAddr = cfg.MAC
		la.TxQLen = qlen
		la.Alias = cfg.Owner.String()
		la.Flags = net.FlagUp
		mv = &netlink.Macvtap{Macvlan: netlink.Macvlan{LinkAttrs: la, Mode: macvlanModes[cfg.Mode]}}
		err = h.LinkAdd(mv)
		if err == nil {
			break
		}
		if errors.Is(err, unix.EEXIST) {
			if cfg.Name == "" && attempt < nameAttempts {
				continue
			}
			return nil, fmt.Errorf("a device named %q already exists in %s: %w", name, ns.name(), err)
		}
		if errors.Is(err, unix.EBUSY) && cfg.Mode == MacvtapPassthru {
			return nil, fmt.Errorf("parent %q already has a macvtap/macvlan (passthrough needs it alone): %w", cfg.Parent, err)
		}
		return nil, fmt.Errorf("add %q on parent %q: %w", name, cfg.Parent, err)
	}
	l, err := finishLink(h, mv.Attrs().Name, cfg.Owner, cfg.MAC)
	if err != nil {
		if derr := h.LinkDel(mv); derr != nil && !linkNotFound(derr) {
			err = errors.Join(err, fmt.Errorf("undo: delete %q: %w", mv.Attrs().Name, derr))
		}
		return nil, err
	}
	l.Netns = cfg.Netns
	l.Kind = KindMacvtap
	l.Parent = cfg.Parent
	return l, nil
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
