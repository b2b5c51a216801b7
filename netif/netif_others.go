//go:build !linux

package netif

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
)

// errUnsupported is the cause of every error on this GOOS.
var errUnsupported = fmt.Errorf("unsupported on %s: %w", runtime.GOOS, errors.ErrUnsupported)

// CreateMacvtap is not supported on this GOOS.
func CreateMacvtap(ctx context.Context, cfg *MacvtapConfig) (*Link, error) {
	return nil, newOpError("create macvtap", "", errUnsupported)
}

// CreateBridgeTap is not supported on this GOOS.
func CreateBridgeTap(ctx context.Context, cfg *BridgeTapConfig) (*Link, error) {
	return nil, newOpError("create bridge tap", "", errUnsupported)
}

// Open is not supported on this GOOS.
func (l *Link) Open(ctx context.Context, opts *OpenOptions) ([]*os.File, error) {
	return nil, newOpError("open", l.Name, errUnsupported)
}

// OpenTap is not supported on this GOOS.
func OpenTap(ctx context.Context, netns, name string, opts *OpenOptions) ([]*os.File, error) {
	return nil, newOpError("open tap", name, errUnsupported)
}

// Delete is not supported on this GOOS.
func (l *Link) Delete(ctx context.Context) error {
	return newOpError("delete", l.Name, errUnsupported)
}

// DeleteLink is not supported on this GOOS.
func DeleteLink(ctx context.Context, netns, name string) error {
	return newOpError("delete", name, errUnsupported)
}

// ListOwned is not supported on this GOOS.
func ListOwned(ctx context.Context, netns string) ([]*Link, error) {
	return nil, newOpError("list", "", errUnsupported)
}

// Sweep is not supported on this GOOS.
func Sweep(ctx context.Context, netns string, alive func(Owner) bool) ([]string, error) {
	return nil, newOpError("sweep", "", errUnsupported)
}

// CreateFixedTap is not supported on this GOOS.
func CreateFixedTap(ctx context.Context, cfg *FixedTapConfig) (*Link, error) {
	return nil, newOpError("create fixed tap", cfg.linkName(), errUnsupported)
}

// CreateMacvlan is not supported on this GOOS.
func CreateMacvlan(ctx context.Context, cfg *MacvlanConfig) (*Link, error) {
	return nil, newOpError("create macvlan", cfg.linkName(), errUnsupported)
}

// SetMaster is not supported on this GOOS.
func SetMaster(ctx context.Context, netns, link, bridge string) error {
	return newOpError("set master", link, errUnsupported)
}

// SetAccessVLAN is not supported on this GOOS.
func SetAccessVLAN(ctx context.Context, netns, link string, vlan int) error {
	return newOpError("set access VLAN", link, errUnsupported)
}

// PortVLANs is not supported on this GOOS.
func PortVLANs(ctx context.Context, netns, link string) ([]PortVLAN, error) {
	return nil, newOpError("read VLANs", link, errUnsupported)
}

// AddRedirect is not supported on this GOOS.
func AddRedirect(ctx context.Context, netns, from, to string) error {
	return newOpError("add redirect", from, errUnsupported)
}

// DelRedirect is not supported on this GOOS.
func DelRedirect(ctx context.Context, netns, from string) error {
	return newOpError("delete redirect", from, errUnsupported)
}

// ReadTapPlug is not supported on this GOOS.
func ReadTapPlug(ctx context.Context, netns, name string) (*TapPlug, error) {
	return nil, newOpError("read tap plug", name, errUnsupported)
}

// CheckBridge is not supported on this platform.
func CheckBridge(ctx context.Context, netns, bridge string, vlans bool) error {
	return newOpError("check bridge", bridge, errUnsupported)
}

// CheckRedirectTarget is not supported on this platform.
func CheckRedirectTarget(ctx context.Context, netns, dev, tap string) error {
	return newOpError("check redirect target", dev, errUnsupported)
}

// UpdateFixedTap is not supported on this platform.
func UpdateFixedTap(ctx context.Context, cfg *FixedTapConfig) error {
	return newOpError("update fixed tap", "", errUnsupported)
}
