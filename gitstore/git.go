package gitstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/runner"
)

// GitGrace is how long a git child has between SIGTERM (when its context
// ends) and SIGKILL.
const GitGrace = 2 * time.Second

// Git runs the git binary. Every git subprocess of git-covenant goes
// through one (network transport, notes, worktrees, rev-list, commits made
// with the user's hooks), so that each runs with an injected environment
// and a context.
//
// Git children stay in the caller's process group, so a Ctrl-C at the
// terminal, or a kill of the group, reaches them as it reaches us; and on
// Linux they get SIGTERM from the kernel if the caller dies first (for
// example `kill -9` of a sync alone), so none outlives it. SIGTERM, not
// SIGKILL: git catches it only to remove its lock and temporary files, then
// dies of it; a git killed outright would leave its ref locks behind for
// the owner check (remote staging) to clear.
type Git struct {
	Dir string   // the work tree, or the git directory of a bare repository
	Env []string // git's whole environment; git is looked up in its PATH
}

// GitResult is a finished git command.
type GitResult struct {
	Stdout, Stderr []byte
	Code           int
}

// GitOption changes one call.
type GitOption func(*gitCall)

type gitCall struct {
	cmd     *exec.Cmd
	started func(pid int)
}

// WithStdin gives git a standard input.
func WithStdin(r io.Reader) GitOption { return func(c *gitCall) { c.cmd.Stdin = r } }

// WithStdout streams git's standard output to w instead of keeping it.
func WithStdout(w io.Writer) GitOption { return func(c *gitCall) { c.cmd.Stdout = w } }

// WithStarted calls f with the git child's pid once it runs (a caller that
// records who owns the locks git takes).
func WithStarted(f func(pid int)) GitOption { return func(c *gitCall) { c.started = f } }

// WithEnv returns a Git whose environment also has kv (later values win).
func (g *Git) WithEnv(kv ...string) *Git {
	return &Git{Dir: g.Dir, Env: append(append([]string(nil), g.Env...), kv...)}
}

// WithDir returns a Git that runs in dir.
func (g *Git) WithDir(dir string) *Git { return &Git{Dir: dir, Env: g.Env} }

// Run runs git with args. A non-zero exit is a result, not an error; not
// starting, or ctx ending first (the error then wraps ctx's), is an error.
func (g *Git) Run(ctx context.Context, args []string, opts ...GitOption) (*GitResult, error) {
	path, err := runner.LookPath("git", g.Env, g.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: git: %v", ErrGit, err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Args[0] = "git"
	cmd.Dir = g.Dir
	cmd.Env = g.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.SysProcAttr = gitAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = GitGrace
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	call := &gitCall{cmd: cmd}
	for _, o := range opts {
		o(call)
	}
	// Pdeathsig follows the thread that forked the child: keep it.
	runtime.LockOSThread()
	err = cmd.Start()
	if err == nil {
		if call.started != nil {
			call.started(cmd.Process.Pid)
		}
		err = cmd.Wait()
	}
	runtime.UnlockOSThread()
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("git %s: %w", args[0], context.Cause(ctx))
	}
	res := &GitResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: git %s: %v", ErrGit, args[0], err)
	}
	return res, nil
}

// Output runs git and returns its standard output; a non-zero exit is an
// error wrapping ErrGit, naming the subcommand and git's own message.
func (g *Git) Output(ctx context.Context, args []string, opts ...GitOption) ([]byte, error) {
	res, err := g.Run(ctx, args, opts...)
	if err != nil {
		return nil, err
	}
	if res.Code != 0 {
		return res.Stdout, res.Err(args)
	}
	return res.Stdout, nil
}

// Err describes a failed command: the subcommand, its status and git's
// message.
func (res *GitResult) Err(args []string) error {
	sub := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			sub = a
			break
		}
	}
	return fmt.Errorf("%w: git %s exited %d: %s", ErrGit, sub, res.Code, GitMessage(res.Stderr))
}

// GitMessage keeps the informative lines of git's stderr, on one line.
func GitMessage(stderr []byte) string {
	var keep []string
	for _, line := range bytes.Split(stderr, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || bytes.HasPrefix(line, []byte("hint:")) {
			continue
		}
		keep = append(keep, string(line))
	}
	if len(keep) == 0 {
		return "(no message)"
	}
	if len(keep) > 3 {
		keep = keep[len(keep)-3:]
	}
	return strings.Join(keep, "; ")
}
