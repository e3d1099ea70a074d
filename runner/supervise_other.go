//go:build unix && !linux

package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

var osGetpid = os.Getpid

// groupAttr puts the child in a process group of its own. Without
// Pdeathsig or waitid(WNOWAIT) here, the group is signalled only while the
// child is known to run, and what it leaves behind after a normal exit is
// not killed.
func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func supervise(ctx context.Context, cmd *exec.Cmd, c Command) (*Result, error) {
	g := grace(c)
	cmd.WaitDelay = g
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	res := &Result{Pid: pid, Started: began}
	if c.Started != nil {
		c.Started(pid)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var cause error
	select {
	case <-done:
		goto reaped
	case <-ctx.Done():
		res.Cancelled, cause = true, ctx.Err()
	case <-timeout:
		res.TimedOut = true
	}
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(g):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
reaped:
	if c.Kill != nil {
		c.Kill()
	}
	res.Duration = time.Since(began)
	ps := cmd.ProcessState
	if ps == nil {
		return nil, fmt.Errorf("no process state")
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.ExitCode = 128 + int(ws.Signal())
		res.Signal = ws.Signal().String()
	} else {
		res.ExitCode = ps.ExitCode()
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		res.UserCPU = time.Duration(ru.Utime.Nano())
		res.SystemCPU = time.Duration(ru.Stime.Nano())
		res.MaxRSS = ru.Maxrss // bytes on the BSDs and macOS
	}
	if cause != nil {
		return res, fmt.Errorf("%w: %w", ErrCancelled, cause)
	}
	return res, nil
}

// Lookup returns the running process with pid. Without /proc the start
// time is unknown (0), so a reused pid looks alive: locks stay, which is
// the safe side.
func Lookup(pid int) (Process, error) {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return Process{}, fmt.Errorf("%w: %d", ErrNoProcess, pid)
	}
	return Process{Pid: pid}, nil
}
