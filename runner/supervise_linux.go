package runner

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// groupAttr puts the child in a process group of its own (pgid = its pid),
// so that stopping it stops everything it started, and has the kernel
// SIGKILL it if this process dies first. Grandchildren are not covered by
// Pdeathsig: when this process is SIGKILLed they are orphaned (a daemon
// that must not leave any would make itself a child subreaper).
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// supervise starts cmd and waits for it, stopping its group when ctx ends
// or the timeout passes, and reaps it. It returns a nil Result only when
// the command did not start.
//
// The child is waited for in two steps: waitid(WNOWAIT) sees it exit but
// leaves it a zombie, so its pid, which is the group id, stays ours while
// what is left of the group is killed; only then does cmd.Wait reap it.
func supervise(ctx context.Context, cmd *exec.Cmd, c Command) (*Result, error) {
	// Pdeathsig fires when the thread that forked the child exits, not the
	// process: keep this goroutine on its thread until the child is reaped
	// so the runtime cannot retire that thread under it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g := grace(c)
	cmd.WaitDelay = g // bounds the copy of a Stdin that never ends
	began := time.Now()
	startMu.Lock() // the reaper must not take this child for an orphan
	if err := cmd.Start(); err != nil {
		startMu.Unlock()
		return nil, err
	}
	pid := cmd.Process.Pid
	track(pid)
	startMu.Unlock()
	defer untrack(pid)
	res := &Result{Pid: pid, Started: began}
	if c.Started != nil {
		c.Started(pid)
	}
	exited := make(chan struct{})
	go func() {
		waitExited(pid)
		close(exited)
	}()
	var timeout <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var cause error
	select {
	case <-exited:
	case <-ctx.Done():
		res.Cancelled, cause = true, ctx.Err()
	case <-timeout:
		res.TimedOut = true
	}
	if res.Cancelled || res.TimedOut {
		syscall.Kill(-pid, syscall.SIGTERM)
		t := time.NewTimer(g)
		select {
		case <-exited:
		case <-t.C:
		}
		t.Stop()
	}
	// Not reaped yet, so -pid is still the group this runner made: kill
	// whatever is left of it (everything, if the grace period ran out).
	syscall.Kill(-pid, syscall.SIGKILL)
	if c.Kill != nil {
		c.Kill()
	}
	<-exited
	res.Duration = time.Since(began)
	err := cmd.Wait()
	ps := cmd.ProcessState
	if ps == nil {
		return nil, err
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.ExitCode = 128 + int(ws.Signal())
		res.Signal = unix.SignalName(ws.Signal())
	} else {
		res.ExitCode = ps.ExitCode()
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		res.UserCPU = time.Duration(ru.Utime.Nano())
		res.SystemCPU = time.Duration(ru.Stime.Nano())
		res.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	if cause != nil {
		return res, fmt.Errorf("%w: %w", ErrCancelled, cause)
	}
	return res, nil
}

// waitExited blocks until process pid has exited, without reaping it.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
