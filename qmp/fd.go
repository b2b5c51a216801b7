package qmp

import (
	"context"
	"fmt"
	"os"
)

// GetFD passes f to QEMU under name (QMP getfd), for netdev_add's fd, fds,
// vhostfd and vhostfds. The descriptor travels in the same sendmsg as the
// command. Names are per monitor connection and must not start with a
// digit; reusing a name closes the fd it held. The caller keeps f and may
// close it once GetFD returns. A name that no netdev_add consumes must be
// released with [Client.CloseFD].
func (c *Client) GetFD(ctx context.Context, name string, f *os.File) error {
	if err := checkFDName(name); err != nil {
		return &OpError{Op: "getfd", Err: err}
	}
	if f == nil {
		return &OpError{Op: "getfd", Err: fmt.Errorf("nil file for fd name %q", name)}
	}
	_, err := c.Execute(ctx, "getfd", map[string]string{"fdname": name}, f)
	return err
}

// CloseFD closes the descriptor QEMU holds under name (QMP closefd): the
// rollback for a [Client.GetFD] whose name was not consumed.
func (c *Client) CloseFD(ctx context.Context, name string) error {
	if err := checkFDName(name); err != nil {
		return &OpError{Op: "closefd", Err: err}
	}
	_, err := c.Execute(ctx, "closefd", map[string]string{"fdname": name})
	return err
}

func checkFDName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty fd name")
	case name[0] >= '0' && name[0] <= '9':
		return fmt.Errorf("fd name %q starts with a digit (QEMU reads it as a number)", name)
	}
	return nil
}
