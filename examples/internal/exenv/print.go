package exenv

import (
	"context"
	"fmt"
	"io"

	"github.com/nicplug/nicplug"
)

// PrintInterfaces prints each NIC's live wiring, one line per NIC:
//
//	net0 52:54:00:0f:7d:ad hub 0: link down, no backend
//	net0 52:54:00:0f:7d:ad hub 0: link up, user (np.net0.b1.ha2530f8d, user)
func PrintInterfaces(ctx context.Context, w io.Writer, vm *nicplug.VM) ([]nicplug.Interface, error) {
	ifs, err := vm.Interfaces(ctx)
	if err != nil {
		return nil, err
	}
	for _, it := range ifs {
		link := "down"
		if it.LinkUp {
			link = "up"
		}
		be := "no backend"
		if it.Datapath == "tap" {
			spec := "half-done plumbing"
			if it.Backend.Type != "" {
				spec = it.Backend.String()
			}
			fmt.Fprintf(w, "%s %s tap datapath: link %s, fixed tap %s, %s\n", it.Device, it.MAC, link, it.Tap, spec)
			continue
		}
		if it.BackendID != "" {
			spec := "unknown backend"
			if it.Backend.Type != "" {
				spec = it.Backend.String()
			}
			be = fmt.Sprintf("%s (%s, %s)", spec, it.BackendID, it.Driver)
		}
		fmt.Fprintf(w, "%s %s hub %d: link %s, %s\n", it.Device, it.MAC, it.Hub, link, be)
	}
	return ifs, nil
}

// Apply prints a plan, then applies it.
func Apply(ctx context.Context, w io.Writer, vm *nicplug.VM, p *nicplug.Plan) error {
	fmt.Fprint(w, p)
	return vm.Apply(ctx, p)
}

// Update plans an <interface> update, prints the plan and applies it.
func Update(ctx context.Context, w io.Writer, vm *nicplug.VM, ifaceXML string) error {
	p, err := vm.PlanUpdate(ctx, []byte(ifaceXML))
	if err != nil {
		return err
	}
	return Apply(ctx, w, vm, p)
}
