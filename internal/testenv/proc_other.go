//go:build !linux

package testenv

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

// processAlive reports true: without a portable probe, build directories of
// other test binaries are left alone.
func processAlive(pid int) bool { return true }
