//go:build !linux

package bench

import "syscall"

// deathSignal: no parent-death signal outside Linux; children are killed
// explicitly.
func deathSignal() *syscall.SysProcAttr { return nil }
