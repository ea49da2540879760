//go:build !linux

package proc

import "syscall"

// parentDeath is a no-op where the kernel has no parent-death signal.
func parentDeath(*syscall.SysProcAttr) {}
