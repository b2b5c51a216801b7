package netif

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CreateMacvlan creates a macvlan as cfg says, tagged as nicplug's and up:
// the guest's MAC on the parent's L2, for a fixed tap to be redirected to
// ([AddRedirect]). A MAC already used by another macvlan or macvtap of the
// parent is EADDRINUSE from the kernel; a passthrough device that would
// not be the parent's only one is EINVAL. On error nothing is left behind.
func CreateMacvlan(ctx context.Context, cfg *MacvlanConfig) (*Link, error) {
	return create(ctx, "create macvlan", cfg, createMacvlan)
}

func createMacvlan(ctx context.Context, cfg *MacvlanConfig) (*Link, error) {
	l, err := createOnParent(ctx, lowerLink{
		kind: KindMacvlan, prefix: MacvlanPrefix, netns: cfg.Netns, name: cfg.Name, parent: cfg.Parent,
		mode: cfg.Mode, mac: cfg.MAC, owner: cfg.Owner,
		newLink: func(m netlink.Macvlan) netlink.Link { return &m },
		explain: func(name string, err error) error {
			switch {
			case errors.Is(err, unix.EADDRINUSE):
				return fmt.Errorf("add %q on parent %q: MAC %s is already used by another macvlan/macvtap of the parent: %w", name, cfg.Parent, cfg.MAC, err)
			case errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EINVAL):
				// The kernel says EINVAL (EBUSY before 4.x) when either side
				// of a passthrough would not be the parent's only one.
				return fmt.Errorf("add %q on parent %q: %w (a passthrough macvlan/macvtap must be the parent's only one: passthrough needs it alone)", name, cfg.Parent, err)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	l.Mode = cfg.Mode.String()
	return l, nil
}
