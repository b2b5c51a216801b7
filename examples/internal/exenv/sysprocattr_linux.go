package exenv

import "syscall"

// sysProcAttr kills QEMU when the example dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
