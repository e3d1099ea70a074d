package mcpserver

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tasks"
)

// Each handler is a thin call into the Service, made after authorize.

func runPrime(ctx context.Context, c *call) (any, error) {
	s := c.s
	if s.opts.Run != nil {
		b, err := s.opts.Run.Binding(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.base.As(b.Identity).Prime(ctx, covenant.PrimeRequest{Ready: c.args.Ready})
		if err != nil {
			return nil, err
		}
		return struct {
			Run *RunBinding `json:"run"`
			*covenant.Primer
		}{b, p}, nil
	}
	return s.svc.Prime(ctx, covenant.PrimeRequest{Ready: c.args.Ready})
}

func limit(a *Args) int {
	if a.Limit > 0 {
		return a.Limit
	}
	return 20
}

// errEnough stops an iteration early.
var errEnough = errors.New("enough rows")

func runReady(ctx context.Context, c *call) (any, error) {
	rows, n := []json.RawMessage{}, limit(c.args)
	err := c.s.base.Ready(ctx, c.args.Label, func(raw []byte) error {
		if len(rows) == n {
			return errEnough
		}
		rows = append(rows, append(json.RawMessage(nil), raw...))
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return rows, nil
}

func runShow(ctx context.Context, c *call) (any, error) { return c.s.base.ShowTask(ctx, c.args.Task) }

func runResume(ctx context.Context, c *call) (any, error) { return c.s.base.Resume(ctx, c.args.Task) }

// runLog returns the latest limit ops (of one task when given), in fold
// order.
func runLog(ctx context.Context, c *call) (any, error) {
	n := limit(c.args)
	ring := make([]json.RawMessage, 0, n)
	total := 0
	err := c.s.base.EachLog(ctx, c.args.Task, func(raw []byte, _ *covenant.LogEntry) error {
		row := append(json.RawMessage(nil), raw...)
		if len(ring) < n {
			ring = append(ring, row)
		} else {
			ring[total%n] = row
		}
		total++
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(ring))
	if total > n {
		out = append(out, ring[total%n:]...)
		out = append(out, ring[:total%n]...)
	} else {
		out = append(out, ring...)
	}
	return struct {
		Total int               `json:"total"`
		Ops   []json.RawMessage `json:"ops"`
	}{total, out}, nil
}

// maxFindings caps the findings a verify summary lists.
const maxFindings = 20

func runVerify(ctx context.Context, c *call) (any, error) {
	rep, err := c.s.base.Verify(ctx, covenant.VerifyOptions{Full: c.args.Full})
	if err != nil {
		return nil, err
	}
	sum := struct {
		OK       bool   `json:"ok"`
		Feeds    int    `json:"feeds"`
		Commits  int    `json:"commits"`
		Ops      int    `json:"ops"`
		Applied  int    `json:"applied"`
		Errors   int    `json:"errors"`
		Findings any    `json:"findings"`
		More     int    `json:"more_findings,omitempty"`
		Hint     string `json:"hint,omitempty"`
	}{OK: rep.OK(), Feeds: rep.Feeds, Commits: rep.Commits, Ops: rep.Ops, Applied: rep.Applied, Errors: rep.Errors()}
	f := rep.Findings
	if len(f) > maxFindings {
		sum.More, f = len(f)-maxFindings, f[:maxFindings]
		sum.Hint = "git covenant verify --json lists them all"
	}
	sum.Findings = f
	if sum.Findings == nil {
		sum.Findings = []any{}
	}
	return sum, nil
}

func runClaim(ctx context.Context, c *call) (any, error) {
	st, err := c.s.svc.StartAndResume(ctx, covenant.StartRequest{Task: c.task, TTL: c.args.ttl})
	if err != nil {
		return nil, err
	}
	return st.Pack, nil
}

func runHeartbeat(ctx context.Context, c *call) (any, error) {
	if c.bind != nil {
		return c.s.opts.Run.Do(ctx, RunRequest{Op: "heartbeat", Task: c.task, TTL: c.args.TTL})
	}
	return c.s.svc.Heartbeat(ctx, covenant.LeaseRequest{Task: c.task, TTL: c.args.ttl})
}

func runHandoff(ctx context.Context, c *call) (any, error) {
	a := c.args
	h := tasks.Handoff{Summary: a.Summary, Next: a.Next, Questions: a.Questions, KeepLease: a.KeepLease,
		Validation: tasks.Validation{Status: a.Validation, Note: a.ValidationNote}}
	if h.Next == nil {
		h.Next = []string{}
	}
	if h.Questions == nil {
		h.Questions = []string{}
	}
	if h.Validation.Status == "" {
		h.Validation.Status = "not-run"
	}
	if c.bind != nil {
		if len(a.Files) > 0 {
			return nil, errors.Join(ErrNotInRun, errors.New("inside a run, files are not pinned: commit them on the run's branch"))
		}
		return c.s.opts.Run.Do(ctx, RunRequest{Op: "handoff", Task: c.task, Handoff: &h})
	}
	h.Files = []tasks.FileRef{}
	h.Commits = []string{}
	return c.s.svc.HandoffTask(ctx, covenant.HandoffRequest{Task: c.task, Handoff: h, Files: a.Files})
}

func runMove(ctx context.Context, c *call) (any, error) {
	if c.bind != nil {
		return c.s.opts.Run.Do(ctx, RunRequest{Op: "move", Task: c.task, To: c.args.To, Note: c.args.Note})
	}
	return c.s.svc.MoveTask(ctx, covenant.MoveRequest{Task: c.task, To: c.args.To, Note: c.args.Note})
}

func runComment(ctx context.Context, c *call) (any, error) {
	if c.bind != nil {
		return c.s.opts.Run.Do(ctx, RunRequest{Op: "comment", Task: c.task, Text: c.args.Text})
	}
	return c.s.svc.Comment(ctx, c.task, c.args.Text)
}

func runEscalate(ctx context.Context, c *call) (any, error) {
	return c.s.svc.Escalate(ctx, covenant.EscalateRequest{Task: c.task, Kind: c.args.Kind, Reason: c.args.Reason})
}

// runCheck runs the command (only with Options.Exec, after the scope
// check) and returns the gate's record.
func runCheck(ctx context.Context, c *call) (any, error) {
	a := c.args
	r, err := c.s.svc.RunCheck(ctx, covenant.RunCheckRequest{Task: c.task, Gate: a.Gate, Argv: a.Argv, Timeout: a.timeout})
	if err != nil {
		return nil, err
	}
	return struct {
		Task       string `json:"task"`
		Gate       string `json:"gate"`
		ExitCode   int    `json:"exit_code"`
		DurationMS int64  `json:"duration_ms"`
		TimedOut   bool   `json:"timed_out,omitempty"`
		Record     any    `json:"record"`
	}{r.Task.ID, a.Gate, r.ExitCode, r.Duration.Milliseconds(), r.TimedOut, r.Task.Gates[a.Gate]}, nil
}
