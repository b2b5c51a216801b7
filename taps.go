package nicplug

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

// VhostNetDevice is the device vhost-net needs: a NIC with <driver
// name='vhost'> is refused by [PrepareTaps] when it is missing.
var VhostNetDevice = "/dev/vhost-net"

// TapOptions tunes [PrepareTaps]. A nil *TapOptions means the defaults.
type TapOptions struct {
	// Netns is the network namespace path where the taps are created
	// ("" = the caller's): the one [Config.Netns] names later.
	Netns string
	// Host creates the taps; nil means the netif-backed host in Netns.
	// It must implement [backend.TapHost].
	Host backend.Host
	// User, when set, lets that user and group open the taps without
	// CAP_NET_ADMIN (TUNSETOWNER/TUNSETGROUP), for a QEMU that runs
	// unprivileged and opens its taps by name (it still needs read-write
	// access to /dev/net/tun). nil makes root their owner: only root (or
	// CAP_NET_ADMIN) can open them, even where /dev/net/tun is 0666.
	User *TapUser
}

// TapUser is the user and group a fixed tap is given to.
type TapUser struct {
	UID, GID int
}

// Taps are the fixed taps of a domain's tap-datapath NICs, created on the
// host by [PrepareTaps], plugged into nothing until the start plan plugs
// each NIC's boot backend.
type Taps struct {
	host   backend.TapHost
	links  backend.Host
	vm     string
	names  map[string]string // device id -> tap name
	queues map[string]int
	vhost  map[string]bool // device id -> <driver name='vhost'>
	order  []string
}

// PrepareTaps creates, before QEMU starts, the fixed tap of every NIC of
// dom on the tap datapath ([domain.NIC.Datapath]): a persistent tap named
// [backend.TapName], tagged as the NIC's, vnet_hdr-capable, with one queue
// per queue pair (IFF_MULTI_QUEUE when more than one), up and plugged into
// nothing. A tap already there with the NIC's owner tag is kept, so that
// running it again (say, `nicplug qemu-args` twice) changes nothing; it
// is given the owner and group asked for now ([TapOptions.User]), and
// refused when it cannot be as asked (a queue mode of the other kind, or
// a user to take away: delete it first). A NIC
// asking for vhost-net on a host without [VhostNetDevice] is an error
// wrapping [ErrBadInput]. On error, the taps it created are deleted.
//
// Pass [Taps.Args] (QEMU opens the taps by name) or [Taps.Files] (QEMU
// inherits their queues) to [domain.Domain.QEMUArgsFor]. The taps outlive
// QEMU: delete them with [Taps.Delete] or [DeleteHostLinks] once it has
// exited.
func PrepareTaps(ctx context.Context, dom *domain.Domain, opts *TapOptions) (*Taps, error) {
	var o TapOptions
	if opts != nil {
		o = *opts
	}
	if dom == nil || dom.XML == nil || dom.XML.Name == "" {
		return nil, badInput("prepare taps", errors.New("domain has no <name>"))
	}
	if o.Host == nil {
		o.Host = backend.NewNetifHost(o.Netns)
	}
	th, err := tapHost(o.Host)
	if err != nil {
		return nil, err
	}
	t := &Taps{host: th, links: o.Host, vm: dom.XML.Name, names: map[string]string{}, queues: map[string]int{}, vhost: map[string]bool{}}
	for _, n := range dom.NICs {
		if n.Datapath() != domain.DatapathTap {
			continue
		}
		if n.Vhost() {
			if _, err := os.Stat(VhostNetDevice); err != nil {
				return nil, badInput("prepare taps", fmt.Errorf("NIC %s asks for vhost-net (<driver name='vhost'/>) but %s is not usable here (%v): load the vhost_net module, or drop name='vhost' (queues > 1 keeps the tap datapath without vhost-net)",
					n.DeviceID(), VhostNetDevice, err))
			}
		}
		dev := n.DeviceID()
		t.names[dev], t.queues[dev] = backend.TapName(t.vm, dev), n.Queues()
		t.vhost[dev] = n.Vhost()
		t.order = append(t.order, dev)
	}
	owned, err := o.Host.ListOwned(ctx, t.vm)
	if err != nil {
		return nil, fmt.Errorf("nicplug: prepare taps: %w", err)
	}
	var created []string
	for _, dev := range t.order {
		name := t.names[dev]
		// Owned by root unless given away: a tap without an owner can be
		// opened by anyone who can open /dev/net/tun (0666 on many hosts).
		cfg := backend.FixedTapConfig{Name: name, MAC: dom.NICs[indexOf(dom, dev)].MAC(), Queues: t.queues[dev],
			UID: 0, GID: -1, Owner: backend.Owner{VM: t.vm, NIC: dev}}
		if o.User != nil {
			cfg.UID, cfg.GID = o.User.UID, o.User.GID
		}
		exists := slices.ContainsFunc(owned, func(l backend.OwnedLink) bool { return l.Name == name && l.Owner.NIC == dev && l.Kind == "tap" })
		create := th.CreateFixedTap
		if exists {
			create = th.UpdateFixedTap // kept, as asked for now
		}
		if err := create(ctx, cfg); err != nil {
			for _, c := range created {
				_ = o.Host.DeleteLink(context.WithoutCancel(ctx), c)
			}
			return nil, fmt.Errorf("nicplug: prepare taps: NIC %s: %w", dev, err)
		}
		if !exists {
			created = append(created, name)
		}
	}
	return t, nil
}

func indexOf(dom *domain.Domain, dev string) int {
	for i, n := range dom.NICs {
		if n.DeviceID() == dev {
			return i
		}
	}
	return -1
}

// Names returns the tap name of each tap-datapath NIC, by device id.
func (t *Taps) Names() map[string]string {
	out := make(map[string]string, len(t.names))
	for k, v := range t.names {
		out[k] = v
	}
	return out
}

// Args returns the taps as [domain.ArgsOptions.Taps] for a QEMU that
// opens them by name (ifname=…, script=no): it needs CAP_NET_ADMIN, or to
// run as the [TapOptions.User] the taps were given to.
func (t *Taps) Args() map[string]domain.TapArgs {
	out := make(map[string]domain.TapArgs, len(t.names))
	for dev, name := range t.names {
		out[dev] = domain.TapArgs{Ifname: name}
	}
	return out
}

// Files opens every queue of every tap (with vnet_hdr) for a QEMU that
// inherits them, numbered from firstFD on in the order of files (3 for
// exec.Cmd.ExtraFiles, whose first file is fd 3): pass args to
// [domain.Domain.QEMUArgsFor] and files to the command, then close files
// once QEMU started. For a NIC with <driver name='vhost'> it also opens
// [VhostNetDevice] once per queue pair (vhostfds=), as libvirt does. QEMU
// then needs no privilege and no access to /dev/net/tun or
// /dev/vhost-net.
func (t *Taps) Files(ctx context.Context, firstFD int) (args map[string]domain.TapArgs, files []*os.File, err error) {
	args = map[string]domain.TapArgs{}
	fail := func(err error) (map[string]domain.TapArgs, []*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, err
	}
	for _, dev := range t.order {
		fs, err := t.host.OpenTapQueues(ctx, t.names[dev], t.queues[dev])
		if err != nil {
			return fail(fmt.Errorf("nicplug: open taps: NIC %s: %w", dev, err))
		}
		var a domain.TapArgs
		for _, f := range fs {
			a.FDs = append(a.FDs, firstFD+len(files))
			files = append(files, f)
		}
		for i := 0; t.vhost[dev] && i < t.queues[dev]; i++ {
			f, err := os.OpenFile(VhostNetDevice, os.O_RDWR, 0)
			if err != nil {
				return fail(fmt.Errorf("nicplug: open taps: NIC %s: vhost-net: %w", dev, err))
			}
			a.VhostFDs = append(a.VhostFDs, firstFD+len(files))
			files = append(files, f)
		}
		args[dev] = a
	}
	return args, files, nil
}

// Delete deletes the taps, for after QEMU exited. A tap already gone is
// not an error.
func (t *Taps) Delete(ctx context.Context) error {
	var errs []error
	for _, dev := range t.order {
		if err := deleteTap(ctx, t.links, t.names[dev]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nicplug: delete taps: %w", err)
	}
	return nil
}

// deleteTap deletes a fixed tap, first removing the redirect a foreign
// interface (an ethernet backend) has to it: the kernel would keep that
// filter, dropping everything the interface receives. A tap already gone
// is not an error.
func deleteTap(ctx context.Context, host backend.Host, name string) error {
	if th, ok := host.(backend.TapHost); ok {
		p, err := th.TapPlug(ctx, name)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil
		case err != nil:
			return err
		}
		if p.Redirect != "" && p.Back {
			if err := th.DelRedirect(ctx, p.Redirect); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	if err := host.DeleteLink(ctx, name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// DeleteHostLinks deletes every host link nicplug created for VM vm in
// host's namespace (fixed taps, macvlans, macvtaps, bridge taps), for
// after its QEMU exited; it returns their names. The redirect a foreign
// interface (an ethernet backend) has to a fixed tap is removed first.
func DeleteHostLinks(ctx context.Context, host backend.Host, vm string) ([]string, error) {
	if err := domain.CheckName(vm); err != nil {
		return nil, badInput("delete host links", err)
	}
	owned, err := host.ListOwned(ctx, vm)
	if err != nil {
		return nil, fmt.Errorf("nicplug: delete host links: %w", err)
	}
	var done []string
	var errs []error
	for _, l := range owned {
		del := deleteTap
		if l.Kind != "tap" {
			del = func(ctx context.Context, h backend.Host, name string) error {
				if err := h.DeleteLink(ctx, name); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				return nil
			}
		}
		if err := del(ctx, host, l.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, l.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return done, fmt.Errorf("nicplug: delete host links: %w", err)
	}
	return done, nil
}
