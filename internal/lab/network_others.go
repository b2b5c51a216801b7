//go:build !linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

type networkImpl struct{}

var errUnsupported = fmt.Errorf("lab: networks unsupported on %s: %w", runtime.GOOS, errors.ErrUnsupported)

// NewNetwork returns an error matching errors.ErrUnsupported: networks need
// Linux namespaces.
func NewNetwork(ctx context.Context, cfg *NetworkConfig) (*Network, error) {
	return nil, errUnsupported
}

// Macvtaps returns an error matching errors.ErrUnsupported.
func (n *Network) Macvtaps(ctx context.Context) ([]string, error) { return nil, errUnsupported }

// Links returns an error matching errors.ErrUnsupported.
func (n *Network) Links(ctx context.Context, typ string) ([]string, error) {
	return nil, errUnsupported
}

// Log returns "".
func (n *Network) Log() string { return "" }

// RALog returns "".
func (n *Network) RALog() string { return "" }

// Close does nothing.
func (n *Network) Close() error { return nil }
