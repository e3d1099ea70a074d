package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LogPath is the detached daemon's log in a covenant directory.
func LogPath(covDir string) string { return filepath.Join(covDir, "daemon.log") }

// Detach starts `exe args...` (the daemon in the foreground, logging to
// LogPath) as a detached process: a session of its own, stdin from
// /dev/null, stdout and stderr appended to the log (where a panic would
// land). It returns once the daemon answers on its socket, or fails with
// the end of the log when the process exits first or does not answer in
// wait. A second start fails with ErrRunning naming the live holder.
func Detach(ctx context.Context, exe string, args, env []string, covDir, socket string, wait time.Duration) (*Status, error) {
	if h, err := ReadHolder(covDir); err == nil {
		return nil, fmt.Errorf("%w: pid %d, started %s", ErrRunning, h.Process.Pid, h.Started.Format(time.RFC3339))
	}
	logf, err := os.OpenFile(LogPath(covDir), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	fi, _ := logf.Stat()
	offset := fi.Size()
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = "git-covenant" // the name it answers to, whatever the file is called
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, devnull, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(wait)
	for {
		var st Status
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		err := Call(cctx, socket, Request{Op: "status"}, &st)
		cancel()
		if err == nil && st.Pid == cmd.Process.Pid {
			cmd.Process.Release()
			return &st, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("the daemon exited (%v): %s", err, logTail(LogPath(covDir), offset))
		case <-deadline:
			return nil, fmt.Errorf("the daemon (pid %d) did not answer within %s; see %s", cmd.Process.Pid, wait, LogPath(covDir))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logTail is what a log got since offset, on one line.
func logTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	s := strings.TrimSpace(string(b[offset:]))
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return strings.Join(strings.Fields(s), " ")
}

// Stop asks the running daemon to drain and stop, and waits (up to wait)
// until it has let go of its lock.
func Stop(ctx context.Context, covDir, socket string, wait time.Duration) (*Holder, error) {
	h, err := ReadHolder(covDir)
	if err != nil {
		return nil, err
	}
	if err := Call(ctx, socket, Request{Op: "stop"}, nil); err != nil && !errors.Is(err, ErrNotRunning) {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		if _, err := ReadHolder(covDir); errors.Is(err, ErrNotRunning) {
			return h, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the daemon (pid %d) has not stopped after %s; its runs may still be draining", h.Process.Pid, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// QueryStatus asks the running daemon for its status.
func QueryStatus(ctx context.Context, covDir, socket string) (*Status, error) {
	if _, err := ReadHolder(covDir); err != nil {
		return nil, err
	}
	var st Status
	if err := Call(ctx, socket, Request{Op: "status"}, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
