package nicplug

import (
	"github.com/nicplug/nicplug/domain"
)

// resolveUpdate parses the <interface> update ifaceXML and matches it to a
// NIC of dom (by alias, else MAC), checking that it can change live: it
// returns the NIC as configured now and the domain with the update applied.
// Errors wrap [ErrBadInput] (Op "update"), except a failure of a resolver
// marked with markResolver.
func resolveUpdate(dom *domain.Domain, ifaceXML []byte, resolver domain.NetworkResolver) (*domain.NIC, *domain.Domain, error) {
	upd, err := domain.ParseInterface(ifaceXML, &domain.ParseOptions{Resolver: resolver})
	if err != nil {
		return nil, nil, badInput("update", err)
	}
	old, err := dom.Find(upd)
	if err != nil {
		return nil, nil, badInput("update", err)
	}
	if _, err := domain.Diff(old, upd); err != nil {
		return nil, nil, badInput("update", err)
	}
	next, err := dom.WithUpdate(upd)
	if err != nil {
		return nil, nil, badInput("update", err)
	}
	return old, next, nil
}

// UpdateAsLive plans the <interface> update ifaceXML (as [VM.PlanUpdate]
// takes it) against dom taken as live: every NIC wired as dom configures
// it and as [AsLive] describes, its link as configured. It checks the
// update as VM.PlanUpdate does (errors wrap [ErrBadInput]) and returns the
// plan VM.PlanUpdate computes for a VM freshly started with dom, without
// QEMU. p.VM names host links; empty means dom's name. opts may be nil
// (then type='network' is an error).
func (p *Planner) UpdateAsLive(dom *domain.Domain, ifaceXML []byte, opts *domain.ParseOptions) (*Plan, error) {
	old, next, err := resolveUpdate(dom, ifaceXML, optsResolver(opts))
	if err != nil {
		return nil, err
	}
	pl := *p
	if pl.VM == "" && dom.XML != nil {
		pl.VM = dom.XML.Name
	}
	cur := WiringOf(old)
	return pl.Update(AsLive(pl.VM, cur), cur, WiringOf(next.NICs[old.Index]))
}

// CheckUpdate checks, without QEMU, that the <interface> update ifaceXML
// matches a NIC of dom (by alias, else MAC) and can change live: the
// checks [VM.PlanUpdate] makes before it reads QEMU. Errors wrap
// [ErrBadInput], except a failure of opts.Resolver (see [Config.Resolver]).
// opts may be nil (then type='network' is an error).
func CheckUpdate(dom *domain.Domain, ifaceXML []byte, opts *domain.ParseOptions) error {
	_, _, err := resolveUpdate(dom, ifaceXML, optsResolver(opts))
	return err
}

// optsResolver is opts' resolver, marked (nil for nil opts).
func optsResolver(opts *domain.ParseOptions) domain.NetworkResolver {
	if opts == nil {
		return nil
	}
	return markResolver(opts.Resolver)
}
