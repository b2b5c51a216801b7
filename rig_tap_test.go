package nicplug_test

import (
	"context"
	"fmt"
	"os"

	"github.com/nicplug/nicplug/backend"
)

// The tap datapath's host operations, faulted like the others.

func (f *faultHost) tap() backend.TapHost { return f.h.(backend.TapHost) }

func (f *faultHost) CreateFixedTap(ctx context.Context, cfg backend.FixedTapConfig) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.tap().CreateFixedTap(ctx, cfg)
}

func (f *faultHost) UpdateFixedTap(ctx context.Context, cfg backend.FixedTapConfig) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.tap().UpdateFixedTap(ctx, cfg)
}

func (f *faultHost) OpenTapQueues(ctx context.Context, name string, queues int) ([]*os.File, error) {
	if err := f.in.hit(); err != nil {
		return nil, err
	}
	return f.tap().OpenTapQueues(ctx, name, queues)
}

// TapPlug is read-back, never faulted.
func (f *faultHost) TapPlug(ctx context.Context, name string) (backend.TapPlug, error) {
	return f.tap().TapPlug(ctx, name)
}

func (f *faultHost) CheckBridge(ctx context.Context, bridge string, vlans bool) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.tap().CheckBridge(ctx, bridge, vlans)
}

func (f *faultHost) CheckRedirectTarget(ctx context.Context, dev, tap string) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.tap().CheckRedirectTarget(ctx, dev, tap)
}

func (f *faultHost) SetMaster(ctx context.Context, link, bridge string) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.tap().SetMaster(ctx, link, bridge)
}

func (f *faultHost) SetAccessVLAN(ctx context.Context, link string, vlan int) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.tap().SetAccessVLAN(ctx, link, vlan)
}

func (f *faultHost) CreateMacvlan(ctx context.Context, cfg backend.MacvlanConfig) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.tap().CreateMacvlan(ctx, cfg)
}

func (f *faultHost) AddRedirect(ctx context.Context, from, to string) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.tap().AddRedirect(ctx, from, to)
}

func (f *faultHost) DelRedirect(ctx context.Context, from string) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.tap().DelRedirect(ctx, from)
}

// plug describes what the tap name is plugged into.
func (r *rig) plug(ctx context.Context, th backend.TapHost, name string) string {
	r.t.Helper()
	p, err := th.TapPlug(ctx, name)
	if err != nil {
		r.t.Fatalf("read back %s: %v", name, err)
	}
	return fmt.Sprintf("%s: master=%q vlan=%d redirect=%q back=%v", name, p.Master, p.VLAN, p.Redirect, p.Back)
}
