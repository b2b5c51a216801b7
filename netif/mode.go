package netif

import "fmt"

// MacvtapMode is a macvtap's forwarding mode.
type MacvtapMode int

// Macvtap modes. The zero value is VEPA, libvirt's default for a
// <interface type='direct'> without a mode.
const (
	// MacvtapVEPA sends everything out through the parent; an external
	// switch reflects traffic between macvtaps of the same parent.
	MacvtapVEPA MacvtapMode = iota
	// MacvtapBridge switches traffic between macvtaps of the same parent
	// inside the host.
	MacvtapBridge
	// MacvtapPrivate never delivers traffic between macvtaps of the same
	// parent.
	MacvtapPrivate
	// MacvtapPassthru gives the one macvtap of the parent all of its
	// traffic; setting its MAC sets the parent's.
	MacvtapPassthru
)

var modeNames = [...]string{
	MacvtapVEPA:     "vepa",
	MacvtapBridge:   "bridge",
	MacvtapPrivate:  "private",
	MacvtapPassthru: "passthrough",
}

// String returns the mode's libvirt spelling ("vepa", "bridge", "private",
// "passthrough").
func (m MacvtapMode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("MacvtapMode(%d)", int(m))
	}
	return modeNames[m]
}

func (m MacvtapMode) validate() error {
	if m < 0 || int(m) >= len(modeNames) {
		return invalidf("unknown macvtap mode %d", int(m))
	}
	return nil
}

// ParseMacvtapMode parses a mode as libvirt spells it in <source mode=…>
// ("passthrough"; iproute2's "passthru" is accepted too). The empty string
// is VEPA, libvirt's default.
func ParseMacvtapMode(s string) (MacvtapMode, error) {
	switch s {
	case "", "vepa":
		return MacvtapVEPA, nil
	case "bridge":
		return MacvtapBridge, nil
	case "private":
		return MacvtapPrivate, nil
	case "passthrough", "passthru":
		return MacvtapPassthru, nil
	}
	return 0, &OpError{Op: "parse macvtap mode", Err: invalidf("unknown macvtap mode %q", s)}
}
