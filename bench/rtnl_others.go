//go:build !linux

package bench

import (
	"errors"
	"fmt"
)

// rtnlMonitor counts route netlink notifications, which exist on Linux
// only.
type rtnlMonitor struct {
	overruns int
}

func newRTNLMonitor(string) (*rtnlMonitor, error) {
	return nil, fmt.Errorf("bench: rtnl monitor: %w", errors.ErrUnsupported)
}

func (m *rtnlMonitor) drain() map[string]int { return nil }

func (m *rtnlMonitor) close() {}
