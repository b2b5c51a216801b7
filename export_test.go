package nicplug

import (
	"context"
	"io"

	"github.com/nicplug/nicplug/domain"
)

// NewVMForTest makes a VM around a (wrapped) monitor.
func NewVMForTest(mon Monitor, closer io.Closer, dom *domain.Domain, cfg *Config) (*VM, error) {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	return newVM(mon, closer, dom, &c)
}

// AttachRunningForTest makes a VM around a (wrapped) monitor from its live
// domain, as AttachRunning does.
func AttachRunningForTest(ctx context.Context, mon Monitor, closer io.Closer, name string, cfg *Config) (*VM, error) {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	return attachRunning(ctx, mon, closer, name, &c)
}

// ReadStateForTest is the full read-back, without a VM.
var ReadStateForTest = readState

// PlanCheckedForTest reports whether applying p checks QEMU first (p was
// computed from what its VM knew).
func PlanCheckedForTest(p *Plan) bool { return p.basis != nil }
