package covenant

import (
	"context"
	"io"
	"time"

	"github.com/git-covenant/git-covenant/runner"
	"github.com/git-covenant/git-covenant/tasks"
)

// CheckOutputBytes caps the output a check keeps as its artifact: the last
// CheckOutputBytes of it (the digest and byte count cover all of it).
const CheckOutputBytes = 1 << 20

// ErrCannotRun means a command could not be found or started.
var ErrCannotRun = runner.ErrStart

// RunCheckRequest says which command to run as a check gate's evidence.
type RunCheckRequest struct {
	Task string // id or prefix
	Gate string
	Argv []string
	// Dir is where the command runs; "" means the top of the work tree.
	Dir string
	// Echo receives the output as it arrives; may be nil.
	Echo io.Writer
	// Timeout, when positive, stops the command after that long; it is
	// then recorded as a failed check.
	Timeout time.Duration
}

// CheckRun is a check that ran and was recorded.
type CheckRun struct {
	Task     *tasks.Task
	ExitCode int
	Duration time.Duration
	TimedOut bool
}

// RunCheck runs a command with the evidence runner (in the repository's
// environment, its own process group, output digested and its tail kept)
// and records its exit status, duration, output digest and the commit it
// ran on as a task.check op, with the output's tail as an artifact. A
// command that ran and failed is evidence, not an error; when ctx ends
// first, the command is stopped and nothing is recorded.
func (s *Service) RunCheck(ctx context.Context, req RunCheckRequest) (*CheckRun, error) {
	id, err := s.ResolveID(ctx, req.Task)
	if err != nil {
		return nil, err
	}
	dir := req.Dir
	if dir == "" {
		dir = s.gitWorkDir()
	}
	res, err := runner.Run(ctx, runner.Command{Argv: req.Argv, Env: s.store().Env(), Dir: dir, Echo: req.Echo,
		Timeout: req.Timeout, TailBytes: CheckOutputBytes})
	if err != nil {
		return nil, err
	}
	chk := tasks.Check{Command: req.Argv, ExitCode: res.ExitCode, DurationMS: res.Duration.Milliseconds(),
		OutputDigest: "sha256:" + res.OutputSHA256, OutputBytes: res.OutputBytes}
	t, err := s.RecordCheck(ctx, CheckRequest{Task: id, Gate: req.Gate, Check: chk, Output: res.Tail})
	if err != nil {
		return nil, err
	}
	return &CheckRun{Task: t, ExitCode: res.ExitCode, Duration: res.Duration, TimedOut: res.TimedOut}, nil
}
