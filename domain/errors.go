package domain

import (
	"errors"
	"fmt"
)

// Sentinel errors reachable with errors.Is.
var (
	// ErrNoDevice: an update matches no NIC of the domain.
	ErrNoDevice = errors.New("domain: no matching device")
	// ErrAmbiguous: an update matches several NICs (same MAC, no alias).
	ErrAmbiguous = errors.New("domain: multiple matching devices")
)

// findError carries libvirt's wording and a sentinel for errors.Is.
type findError struct {
	msg  string
	kind error
}

func (e *findError) Error() string { return e.msg }
func (e *findError) Unwrap() error { return e.kind }

// TypeError reports an interface type that cannot sit behind a
// runtime-switchable NIC.
type TypeError struct {
	// Device is the device id of the interface in a domain ("" for a
	// standalone <interface>).
	Device string
	// Type is the interface's type attribute as written.
	Type string
	// Reason says why nicplug cannot use it.
	Reason string
}

// Error names the interface, its type and why it is refused.
func (e *TypeError) Error() string {
	return fmt.Sprintf("domain: %s: type '%s' is not supported: %s", label(e.Device), clip(e.Type), e.Reason)
}

// unsupportedTypes explains the libvirt types nicplug refuses.
var unsupportedTypes = map[string]string{
	"vhostuser": "the guest's queues are served by an external vhost-user process, bypassing QEMU's net layer, so no hub can sit between NIC and backend",
	"vdpa":      "the guest's queues are served by a vDPA device, bypassing QEMU's net layer, so no hub can sit between NIC and backend",
	"hostdev":   "it is PCI passthrough of a host device (SR-IOV VF), not a QEMU NIC with a netdev",
	"internal":  "it is VirtualBox-only",
	"vds":       "it is VMware-only",
}

// Fields of a [ChangeError], one per NIC property that cannot change while
// the guest runs.
const (
	FieldMAC        = "mac"
	FieldModel      = "model"
	FieldDriver     = "driver"
	FieldTapName    = "target"
	FieldPCIAddress = "address"
	FieldAlias      = "alias"
	FieldROMBar     = "rom bar"
	FieldROMEnabled = "rom enabled"
	FieldBootOrder  = "boot"
	FieldMTU        = "mtu"
)

// ChangeError reports an update that changes a NIC property that cannot
// change live. Its text follows libvirt's qemuDomainChangeNet.
type ChangeError struct {
	// Field is one of the Field* constants.
	Field string
	// Old and New are the property's old and new values as text
	// ("(default)" when unset).
	Old, New string
}

// Error is worded like libvirt's qemuDomainChangeNet message for the field.
func (e *ChangeError) Error() string {
	var msg string
	e = &ChangeError{Field: e.Field, Old: clip(e.Old), New: clip(e.New)}
	switch e.Field {
	case FieldMAC:
		msg = fmt.Sprintf("cannot change network interface mac address from %s to %s", e.Old, e.New)
	case FieldModel:
		msg = fmt.Sprintf("cannot modify network device model from %s to %s", e.Old, e.New)
	case FieldDriver:
		msg = "cannot modify network device driver attributes"
	case FieldTapName:
		msg = "cannot modify network device tap name"
	case FieldPCIAddress:
		msg = "cannot modify network device guest PCI address"
	case FieldAlias:
		msg = "cannot modify network device alias"
	case FieldROMBar:
		msg = "cannot modify network device rom bar setting"
	case FieldROMEnabled:
		msg = "cannot modify network device rom enabled setting"
	case FieldBootOrder:
		msg = "cannot modify network device boot index setting"
	case FieldMTU:
		msg = "cannot modify MTU"
	default:
		msg = fmt.Sprintf("cannot modify network device %s", e.Field)
	}
	if e.Field != FieldMAC && e.Field != FieldModel {
		msg += fmt.Sprintf(" (from %s to %s)", e.Old, e.New)
	}
	return "domain: " + msg
}
