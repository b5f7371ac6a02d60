package testenv

import "syscall"

// sysProcAttr makes the kernel kill a server when the test binary dies (a
// test timeout, a crash), so no server outlives its test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}
