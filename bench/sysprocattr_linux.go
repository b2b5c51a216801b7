package bench

import "syscall"

// deathSignal makes the kernel kill a child when this process dies.
func deathSignal() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
