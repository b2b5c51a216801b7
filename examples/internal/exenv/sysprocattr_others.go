//go:build !linux

package exenv

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
