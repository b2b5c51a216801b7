package child

import (
	"os/exec"
	"syscall"
)

// setDeathSignal sets SIGKILL as cmd's parent-death signal unless the
// caller chose one, on a copy of the caller's SysProcAttr.
func setDeathSignal(cmd *exec.Cmd) {
	attr := &syscall.SysProcAttr{}
	if cmd.SysProcAttr != nil {
		c := *cmd.SysProcAttr
		attr = &c
	}
	if attr.Pdeathsig == 0 {
		attr.Pdeathsig = syscall.SIGKILL
	}
	cmd.SysProcAttr = attr
}
