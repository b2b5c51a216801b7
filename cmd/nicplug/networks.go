package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"libvirt.org/go/libvirtxml"
)

// maxNetworkFiles bounds how many files --networks reads.
const maxNetworkFiles = 1000

// netFlag is --networks DIR: libvirt <network> definitions that resolve
// <interface type='network'>.
type netFlag struct {
	dir string
	// opts is nil until load, and stays nil without --networks.
	opts *domain.ParseOptions
	// names are the networks defined, sorted (for errors).
	names []string
}

func (n *netFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&n.dir, "networks", "", "`directory` of libvirt <network> XML files (*.xml) resolving <interface type='network'>")
}

// load reads the definitions in --networks, if given.
func (n *netFlag) load(ctx context.Context) error {
	if n.dir == "" || n.opts != nil {
		return nil
	}
	defs, err := loadNetworks(ctx, n.dir)
	var ee *exitError
	if err != nil && !errors.As(err, &ee) && ctx.Err() != nil {
		return fmt.Errorf("--networks %s: %w", n.dir, err) // timed out or interrupted
	}
	if err != nil {
		return usageErrorf("--networks %s: %w", n.dir, err)
	}
	for name := range defs {
		n.names = append(n.names, name)
	}
	slices.Sort(n.names)
	n.opts = &domain.ParseOptions{Resolver: func(network, portgroup string) (domain.Backend, error) {
		def, ok := defs[network]
		if !ok {
			return domain.Backend{}, &networkError{fmt.Sprintf("network '%s' is not defined in %s (defined: %s)", network, n.dir, strings.Join(n.names, ", "))}
		}
		b, err := def.resolve(portgroup)
		if err != nil {
			return domain.Backend{}, &networkError{err.Error()}
		}
		return b, nil
	}}
	return nil
}

// resolver is the library's Config.Resolver (nil without --networks).
func (n *netFlag) resolver() domain.NetworkResolver {
	if n.opts == nil {
		return nil
	}
	return n.opts.Resolver
}

// networkError is a network the definitions do not resolve: bad input.
type networkError struct{ msg string }

func (e *networkError) Error() string { return e.msg }

// Is matches domain.ErrUnknownNetwork and nicplug.ErrBadInput.
func (e *networkError) Is(target error) bool {
	return target == domain.ErrUnknownNetwork || target == nicplug.ErrBadInput
}

// loadNetworks reads every *.xml file in dir as a libvirt <network>, by
// name.
func loadNetworks(ctx context.Context, dir string) (map[string]*network, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, errors.New("not a directory")
	}
	if len(files) == 0 {
		return nil, errors.New("no *.xml files")
	}
	if len(files) > maxNetworkFiles {
		return nil, fmt.Errorf("%d *.xml files, the limit is %d", len(files), maxNetworkFiles)
	}
	defs := map[string]*network{}
	from := map[string]string{}
	for _, f := range files {
		data, err := readFile(ctx, f)
		if err != nil {
			return nil, err
		}
		def, err := parseNetwork(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		if prev, dup := from[def.name]; dup {
			return nil, fmt.Errorf("%s and %s both define network '%s'", filepath.Base(prev), filepath.Base(f), def.name)
		}
		defs[def.name], from[def.name] = def, f
	}
	return defs, nil
}

// parseNetwork maps a libvirt <network> to the backend of an interface on
// it, as libvirt does: a network with a bridge (isolated, nat, route, open,
// or forward mode bridge naming one) gets a tap on that bridge; forward
// modes bridge (without a bridge), private, vepa and passthrough get a
// macvtap on the first forward interface (libvirt picks one from the
// pool; nicplug always takes the first). A bridge network's <vlan>, and
// its portgroups' (see network.resolve), make the tap an access port.
func parseNetwork(data []byte) (*network, error) {
	b, x, err := networkBackend(data)
	if err != nil {
		return nil, err
	}
	def := &network{name: x.Name, backend: b, groups: map[string]portGroup{}}
	name := cutString(x.Name, 64)
	if def.backend.VLAN, err = accessVLAN(x.VLAN, b); err != nil {
		return nil, fmt.Errorf("network '%s': %w", name, err)
	}
	if err := def.readPortGroups(data, x); err != nil {
		return nil, fmt.Errorf("network '%s': %w", name, err)
	}
	return def, nil
}

// networkBackend returns the backend of an interface on the network data
// defines, without VLAN, and the parsed network.
func networkBackend(data []byte) (domain.Backend, *libvirtxml.Network, error) {
	var b domain.Backend
	root, err := rootElement(data)
	if err != nil {
		return b, nil, err
	}
	if root != "network" {
		return b, nil, fmt.Errorf("root element is <%s>, want <network>", cutString(root, 64))
	}
	var x libvirtxml.Network
	if err := x.Unmarshal(string(data)); err != nil {
		return b, nil, fmt.Errorf("parse <network>: %s", cutString(err.Error(), 200))
	}
	if x.Name == "" {
		return b, nil, errors.New("the network has no <name>")
	}
	name := cutString(x.Name, 64)
	refuse := func(what string) (domain.Backend, *libvirtxml.Network, error) {
		return b, nil, fmt.Errorf("network '%s': %s is not supported (nicplug does not apply it)", name, what)
	}
	switch {
	case x.VirtualPort != nil:
		return refuse("<virtualport>")
	case x.Bandwidth != nil:
		return refuse("<bandwidth>")
	}
	mode := ""
	if x.Forward != nil {
		mode = x.Forward.Mode
	}
	bridge := ""
	if x.Bridge != nil {
		bridge = x.Bridge.Name
	}
	switch mode {
	case "", "nat", "route", "open", "bridge":
		if bridge != "" {
			b = domain.Backend{Type: domain.TypeBridge, Bridge: bridge}
			break
		}
		if mode != "bridge" {
			return b, nil, fmt.Errorf("network '%s': forward mode '%s' needs <bridge name=…/> (libvirt names it when it defines the network: give the defined XML, virsh net-dumpxml)", name, modeName(mode))
		}
		fallthrough
	case "private", "vepa", "passthrough":
		dev := ""
		switch {
		case len(x.Forward.Interfaces) > 0:
			dev = x.Forward.Interfaces[0].Dev
		case x.Forward.Dev != "":
			dev = x.Forward.Dev
		case len(x.Forward.PFs) > 0:
			dev = x.Forward.PFs[0].Dev
		default:
			return b, nil, fmt.Errorf("network '%s': forward mode '%s' names no device (<forward dev=…> or <interface dev=…/>)", name, mode)
		}
		b = domain.Backend{Type: domain.TypeDirect, Dev: dev, Mode: mode}
	default:
		return b, nil, fmt.Errorf("network '%s': forward mode '%s' is not supported (want nat, route, open, bridge, private, vepa or passthrough, or none)", name, cutString(mode, 64))
	}
	if err := b.Validate(); err != nil {
		return b, nil, fmt.Errorf("network '%s': %w", name, err)
	}
	return b, &x, nil
}

func modeName(mode string) string {
	if mode == "" {
		return "none"
	}
	return mode
}

// cutString shortens s to n bytes with an ellipsis, for error messages.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
