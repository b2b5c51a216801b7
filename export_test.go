package nicplug

import (
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
