package guest

import "syscall"

// sysProcAttr makes the kernel kill QEMU if the test process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
