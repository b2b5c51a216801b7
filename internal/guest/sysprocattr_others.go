//go:build !linux

package guest

import "syscall"

// sysProcAttr returns nil: only Linux can kill QEMU with its parent.
func sysProcAttr() *syscall.SysProcAttr { return nil }
