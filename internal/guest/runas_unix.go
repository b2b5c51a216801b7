//go:build unix

package guest

import (
	"os/exec"
	"syscall"
)

// setCredential makes cmd run as u, with no supplementary groups.
func setCredential(cmd *exec.Cmd, u *RunAs) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}
	return nil
}
