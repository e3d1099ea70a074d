package daemon

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/runner"
	"golang.org/x/sys/unix"
)

// procStat is what the daemon reads of /proc/<pid>/stat.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
	start           uint64
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return procStat{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0], start: start}, true
}

func eachProc(fn func(procStat)) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			fn(st)
		}
	}
}

// killGroupRemnants kills what is left of the process group a dead
// daemon's agent led: processes in group leader.Pid that started no
// earlier than the leader. The leader is gone (its daemon died and took it
// along); while any member lives the kernel keeps the group id from being
// reused as a pid, so the members are the agent's descendants. Each is
// signalled through a pidfd opened and checked first, so a pid that
// exited and was reused meanwhile is never hit.
func killGroupRemnants(leader runner.Process) int {
	n := 0
	self := os.Getpid()
	eachProc(func(p procStat) {
		if p.pgrp != leader.Pid || p.pid == self || p.start < leader.Start || p.state == 'Z' {
			return
		}
		fd, err := unix.PidfdOpen(p.pid, 0)
		if err != nil {
			return
		}
		defer unix.Close(fd)
		if q, ok := readStat(p.pid); !ok || q.start != p.start || q.pgrp != leader.Pid {
			return
		}
		if unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil {
			n++
		}
	})
	return n
}

// stopGroup stops the group a live, re-adopted agent leads: SIGTERM, then
// SIGKILL after grace, each sent only while the leader still runs with its
// recorded start time (so its pid, the group id, is still its own).
func stopGroup(p runner.Process, grace time.Duration) {
	if !p.Alive() {
		return
	}
	syscall.Kill(-p.Pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && p.Alive() {
		time.Sleep(50 * time.Millisecond)
	}
	if p.Alive() {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
}
