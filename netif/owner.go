package netif

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// OwnerTagPrefix starts the IFLA_IFALIAS of every device nicplug creates.
const OwnerTagPrefix = "nicplug:"

// maxAlias is the kernel's IFALIASZ minus the terminating NUL.
const maxAlias = 255

// Owner identifies the guest NIC a device belongs to. It is stored in the
// device's IFLA_IFALIAS as "nicplug:<VM>/<NIC>".
type Owner struct {
	// VM is the domain name (or UUID). Required; may not contain '/'.
	VM string
	// NIC is the NIC's identity in the domain (alias or MAC). Required; may
	// not contain '/'.
	NIC string
}

// String returns the tag stored in IFLA_IFALIAS.
func (o Owner) String() string { return OwnerTagPrefix + o.VM + "/" + o.NIC }

// Validate reports whether o can be stored as a tag and read back unchanged.
func (o Owner) Validate() error {
	for _, f := range []struct{ name, v string }{{"VM", o.VM}, {"NIC", o.NIC}} {
		if f.v == "" {
			return invalidf("owner %s is empty", f.name)
		}
		if !utf8.ValidString(f.v) {
			return invalidf("owner %s %q is not valid UTF-8", f.name, f.v)
		}
		if strings.ContainsRune(f.v, '/') {
			return invalidf("owner %s %q contains '/'", f.name, f.v)
		}
		if i := strings.IndexFunc(f.v, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
			return invalidf("owner %s %q contains a non-printable character", f.name, f.v)
		}
	}
	if n := len(o.String()); n > maxAlias {
		return invalidf("owner tag is %d bytes, the kernel keeps at most %d", n, maxAlias)
	}
	return nil
}

// ParseOwner parses an IFLA_IFALIAS value. ok is false for a value that is
// not a well-formed nicplug tag: such a device is not nicplug's.
func ParseOwner(alias string) (o Owner, ok bool) {
	rest, found := strings.CutPrefix(alias, OwnerTagPrefix)
	if !found {
		return Owner{}, false
	}
	vm, nic, found := strings.Cut(rest, "/")
	if !found {
		return Owner{}, false
	}
	o = Owner{VM: vm, NIC: nic}
	if o.Validate() != nil {
		return Owner{}, false
	}
	return o, true
}

// validateOwner wraps Validate's error with the owner's text.
func validateOwner(o Owner) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("bad owner: %w", err)
	}
	return nil
}
