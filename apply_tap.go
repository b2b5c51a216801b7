package nicplug

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/nicplug/nicplug/backend"
)

// runTapHost runs a host operation of the tap datapath.
func (e *executor) runTapHost(ctx context.Context, a Action, owner backend.Owner) error {
	th, err := tapHost(e.host)
	if err != nil {
		return err
	}
	switch a.Op {
	case OpCheckBridge:
		return th.CheckBridge(ctx, a.Bridge, a.VLAN != 0)
	case OpCheckTarget:
		if err := th.CheckRedirectTarget(ctx, a.Link, a.Target); err != nil {
			return fmt.Errorf("nicplug: NIC %s: ethernet target dev %s: %w", owner.NIC, a.Link, err)
		}
		return nil
	case OpSetMaster:
		return th.SetMaster(ctx, a.Link, a.Bridge)
	case OpSetVLAN:
		return th.SetAccessVLAN(ctx, a.Link, a.VLAN)
	case OpCreateMacvlan:
		return th.CreateMacvlan(ctx, backend.MacvlanConfig{Name: a.Link, Parent: a.Parent, Mode: a.Mode, MAC: a.MAC, Owner: owner})
	case OpAddRedirect:
		return th.AddRedirect(ctx, a.Link, a.Target)
	case OpDelRedirect:
		// Removing what is not there leaves the host as wanted: a
		// cleanup after a crash may find half a redirect pair.
		if err := th.DelRedirect(ctx, a.Link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return fmt.Errorf("nicplug: unknown host operation %q", a.Op)
}
