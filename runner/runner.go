// Package runner runs the commands git-covenant keeps evidence of (a task
// check, a provenance record's validation command and, next, the daemon's
// agents) as supervised child processes, and identifies processes by pid and
// start time so that a lock can name its owner.
//
// A command runs with exactly the environment, directory, stdin and extra
// files it is given (nothing is inherited from this process), in a process
// group of its own. Its stdout and stderr go through one pipe into a
// streaming SHA-256 and a capped tail, so any amount of output costs a
// bounded amount of memory. On cancellation or timeout the group gets
// SIGTERM, then after a grace period SIGKILL, and the child is always
// reaped. Only the group of a child this package started is ever
// signalled, and only while that child has not been reaped (so its pid, and
// with it the group id, cannot have been reused).
//
// It imports nothing from this module.
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

var (
	// ErrNoCommand means the argv was empty.
	ErrNoCommand = errors.New("no command given")
	// ErrStart means the command could not be found or started.
	ErrStart = errors.New("cannot start command")
	// ErrCancelled means the caller's context ended before the command
	// did; the command was stopped and reaped.
	ErrCancelled = errors.New("command cancelled")
)

const (
	// DefaultTailBytes is how much of the end of the output a Result keeps
	// when Command.TailBytes is zero.
	DefaultTailBytes = 64 << 10
	// DefaultGrace is how long a stopped command has between SIGTERM and
	// SIGKILL when Command.Grace is zero.
	DefaultGrace = 2 * time.Second
)

// Command says what to run and how.
type Command struct {
	Argv []string
	// Env is the child's whole environment. Nothing is inherited: nil is
	// an empty environment. The program is looked up in Env's PATH.
	Env []string
	Dir string
	// Stdin is the child's standard input; nil reads as empty.
	Stdin io.Reader
	// ExtraFiles are passed as file descriptors 3, 4, … (the daemon hands
	// an agent its token pipe this way).
	ExtraFiles []*os.File
	// Timeout, when positive, stops the command after that long; the
	// Result then says TimedOut. It is evidence, not an error.
	Timeout time.Duration
	// Grace is the time between SIGTERM and SIGKILL (DefaultGrace if 0).
	Grace time.Duration
	// TailBytes caps the output kept in Result.Tail (DefaultTailBytes if
	// 0); the digest and the byte count always cover all of it.
	TailBytes int
	// Echo, when set, receives the output as it arrives.
	Echo io.Writer
	// Started, when set, is called with the child's pid once it runs.
	Started func(pid int)
	// Kill, when set, is called each time the runner kills what is left of
	// the group (after the child exits, or after the grace period), to kill
	// what left the group too: the run's cgroup (sandbox.Cgroup.Kill).
	Kill func()
}

// Result is what a finished command did.
type Result struct {
	Pid int `json:"pid"`
	// ExitCode is the exit status, or 128+n when signal n ended it (the
	// shell's convention).
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal,omitempty"` // the signal that ended it, if any
	// TimedOut and Cancelled say why the runner stopped it, if it did.
	TimedOut  bool `json:"timed_out,omitempty"`
	Cancelled bool `json:"cancelled,omitempty"`

	Started   time.Time     `json:"started"`
	Duration  time.Duration `json:"duration"`
	UserCPU   time.Duration `json:"user_cpu"`
	SystemCPU time.Duration `json:"system_cpu"`
	// MaxRSS is the peak resident set size of the child (or of the largest
	// of its descendants it waited for), in bytes.
	MaxRSS int64 `json:"max_rss"`

	// OutputSHA256 is the hex SHA-256 of the whole combined output.
	OutputSHA256 string `json:"output_sha256"`
	OutputBytes  int64  `json:"output_bytes"`
	// Tail is the last TailBytes bytes of the output.
	Tail []byte `json:"-"`
}

// CPU is user plus system CPU time.
func (r *Result) CPU() time.Duration { return r.UserCPU + r.SystemCPU }

// Run starts the command, waits for it (or stops it when ctx ends or the
// timeout passes), reaps it and returns what it did. A command that ran and
// failed, or timed out, is a Result, not an error. When ctx ends first the
// Result is returned with an error wrapping ErrCancelled and ctx's error.
func Run(ctx context.Context, c Command) (*Result, error) {
	if len(c.Argv) == 0 {
		return nil, ErrNoCommand
	}
	path, err := LookPath(c.Argv[0], c.Env, c.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStart, c.Argv[0], err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCancelled, err)
	}
	env := c.Env
	if env == nil {
		env = []string{}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := &exec.Cmd{Path: path, Args: c.Argv, Env: env, Dir: c.Dir, Stdin: c.Stdin, Stdout: pw, Stderr: pw,
		ExtraFiles: c.ExtraFiles, SysProcAttr: groupAttr()}

	out := newOutput(c.TailBytes, c.Echo)
	copied := make(chan struct{})
	go func() {
		io.Copy(out, pr)
		close(copied)
	}()

	res, err := supervise(ctx, cmd, c)
	pw.Close()
	if err != nil && res == nil {
		pr.Close()
		<-copied
		return nil, fmt.Errorf("%w: %s: %v", ErrStart, c.Argv[0], err)
	}
	// The group is gone; a process that left it (setsid) and kept the pipe
	// open must not hold us: stop reading after the grace period.
	select {
	case <-copied:
	case <-time.After(grace(c)):
		pr.Close()
		<-copied
	}
	res.OutputSHA256, res.OutputBytes, res.Tail = out.sum()
	return res, err
}

func grace(c Command) time.Duration {
	if c.Grace > 0 {
		return c.Grace
	}
	return DefaultGrace
}

// LookPath finds a program the way a shell given env would: a name with a
// slash is taken as it is (relative to dir), any other is searched in env's
// PATH (never this process's). Relative PATH entries are skipped.
func LookPath(name string, env []string, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", err
		}
		return name, nil
	}
	pathVar := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, d := range filepath.SplitList(pathVar) {
		if !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// output digests everything written to it and keeps the tail.
type output struct {
	h    hash.Hash
	n    int64
	tail []byte
	max  int
	echo io.Writer
}

func newOutput(max int, echo io.Writer) *output {
	if max <= 0 {
		max = DefaultTailBytes
	}
	return &output{h: sha256.New(), max: max, echo: echo, tail: make([]byte, 0, min(max, 4096))}
}

func (o *output) Write(p []byte) (int, error) {
	o.h.Write(p)
	o.n += int64(len(p))
	if len(p) >= o.max {
		o.tail = append(o.tail[:0], p[len(p)-o.max:]...)
	} else {
		if over := len(o.tail) + len(p) - o.max; over > 0 {
			o.tail = append(o.tail[:0], o.tail[over:]...)
		}
		o.tail = append(o.tail, p...)
	}
	if o.echo != nil {
		o.echo.Write(p) // a failing echo must not stop the digest
	}
	return len(p), nil
}

func (o *output) sum() (string, int64, []byte) {
	return hex.EncodeToString(o.h.Sum(nil)), o.n, o.tail
}
