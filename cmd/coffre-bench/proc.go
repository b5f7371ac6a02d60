package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ, 100
// on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// procWatch follows the server process of a scenario through /proc: its CPU
// time over the scenario and the peak of its resident set. A zero pid
// watches nothing: a server on another machine, or the raw disk.
type procWatch struct {
	pid      int
	cpu0     procTimes
	client0  time.Duration
	warnings []string
}

// procTimes is the CPU time a process has used, in user space (utime) and
// in the kernel on its behalf (stime: system calls, page faults).
type procTimes struct{ user, sys time.Duration }

// start records the server's CPU time and RSS, and resets its peak RSS
// (VmHWM) to its current RSS (proc(5), clear_refs), so that end reports the
// peak of this scenario alone. It returns the RSS.
func (w *procWatch) start() int64 {
	w.client0 = selfCPU()
	if w.pid == 0 {
		return 0
	}
	cpu, err := procCPU(w.pid)
	if err != nil {
		w.warn(err)
	}
	w.cpu0 = cpu
	rss, err := procStatus(w.pid, "VmRSS")
	if err != nil {
		w.warn(err)
	}
	if err := os.WriteFile(filepath.Join("/proc", strconv.Itoa(w.pid), "clear_refs"), []byte("5"), 0); err != nil {
		w.warn(fmt.Errorf("resetting the peak RSS of process %d: %w", w.pid, err))
	}
	return rss
}

// end fills the resource figures of r for the scenario since start.
func (w *procWatch) end(r *Result) {
	r.ClientCPU = (selfCPU() - w.client0).Seconds()
	if w.pid == 0 {
		return
	}
	if cpu, err := procCPU(w.pid); err != nil {
		w.warn(err)
	} else {
		r.ServerUserCPU = (cpu.user - w.cpu0.user).Seconds()
		r.ServerSysCPU = (cpu.sys - w.cpu0.sys).Seconds()
		r.ServerCPU = r.ServerUserCPU + r.ServerSysCPU
	}
	if hwm, err := procStatus(w.pid, "VmHWM"); err != nil {
		w.warn(err)
	} else {
		r.ServerPeakRSS = hwm
	}
}

func (w *procWatch) warn(err error) {
	if len(w.warnings) < 5 {
		w.warnings = append(w.warnings, err.Error())
	}
}

// selfCPU returns the CPU time (user+system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU returns utime and stime of a process from /proc/PID/stat.
func procCPU(pid int) (procTimes, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procTimes{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields from the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procTimes{}, fmt.Errorf("/proc/%d/stat: no ')' in %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state (3), ppid (4)... utime is field 14, stime 15.
	if len(f) < 13 {
		return procTimes{}, fmt.Errorf("/proc/%d/stat: %d fields after the name, want at least 13", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procTimes{}, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return procTimes{time.Duration(utime) * clockTick, time.Duration(stime) * clockTick}, nil
}

// procStatus returns a size field of /proc/PID/status (VmRSS, VmHWM...),
// in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected %s line %q in /proc/%d/status", field, sc.Text(), pid)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * kib, err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
