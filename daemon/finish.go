package daemon

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/tasks"
)

// finish ends a run: its token dies, the run record is signed by the
// daemon, the task moves per the manifest and the lease is handed back
// (with a handoff from the agent's final message when it left none), the
// worktree and the run's files go, and a task that reached the success
// state gets a witness checkpoint.
func (d *Daemon) finish(ctx context.Context, r *run, o *outcome, stopped bool) (*runs.Record, error) {
	d.revoke(r)
	a, st := r.agent, r.st
	b := runs.RecordBody{Run: st.Run, Agent: st.Identity, Manifest: st.Agent, Epoch: st.Epoch, Command: st.Command,
		Started: st.Began.UTC().Format(time.RFC3339), Sandbox: o.backend}
	if b.Command == "" {
		b.Command = commandDigest(a.Argv)
	}
	final := ""
	var out []byte
	res := o.res
	switch {
	case res == nil:
		code := 127
		b.Outcome, b.ExitCode, b.Note = runs.Exited, &code, fmt.Sprintf("not started: %v", o.err)
	default:
		out = res.Tail
		code := res.ExitCode
		b.ExitCode, b.Signal = &code, res.Signal
		b.Started = res.Started.UTC().Format(time.RFC3339)
		b.DurationMS, b.CPUMS, b.MaxRSS = res.Duration.Milliseconds(), res.CPU().Milliseconds(), res.MaxRSS
		b.CPUMS = max(b.CPUMS, r.budget.observedCPU()) // budget.go
		b.OutputSHA256, b.OutputBytes = res.OutputSHA256, res.OutputBytes
		switch {
		case res.TimedOut:
			b.Outcome, b.Note = runs.TimedOut, fmt.Sprintf("stopped after the timeout of %s", a.Timeout)
		case r.budget.stopped() != nil:
			b.Outcome, b.Note = runs.Stopped, "stopped by the daemon: budget exhausted"
		case res.Cancelled || stopped:
			b.Outcome, b.Note = runs.Stopped, "stopped by the daemon"
		default:
			b.Outcome = runs.Exited
		}
		if rep := o.report; rep != nil {
			final = rep.Final
			if u := rep.Usage; u.Input != 0 || u.Output != 0 {
				b.Tokens = &runs.Tokens{Input: u.Input, Output: u.Output}
			}
			b.Credits = int64(math.Round(rep.CostUSD * 1e6))
			if rep.IsError {
				b.Failed = true
				b.Note = strings.TrimSpace(b.Note + " the tool reported an error: " + strings.Join(rep.Errors, "; "))
			}
		}
		r.reported.addTo(&b) // usage.go
		if v := o.validation; v != nil {
			b.Validation = &runs.Validation{Command: commandDigest(a.Validation), ExitCode: v.ExitCode, DurationMS: v.Duration.Milliseconds(),
				OutputSHA256: v.OutputSHA256, OutputBytes: v.OutputBytes, TimedOut: v.TimedOut}
			if v.ExitCode != 0 || v.TimedOut {
				b.Failed = true
			}
		} else if o.err != nil {
			b.Failed = true
			b.Note = strings.TrimSpace(b.Note + " " + o.err.Error())
		}
	}
	if len(b.Note) > 4000 {
		b.Note = b.Note[:4000]
	}
	rec, err := d.close(ctx, r, b, out, final)
	if err == nil && rec != nil {
		d.writePause(ctx, r, &rec.RecordBody, stopped)
	}
	return rec, err
}

// close records a run and gives its lease back; what recovery of a dead
// daemon's run shares with a normal end.
func (d *Daemon) close(ctx context.Context, r *run, b runs.RecordBody, out []byte, final string) (*runs.Record, error) {
	st, a := r.st, r.agent
	if st.Worktree != "" && st.Base != "" {
		if head, commits, err := d.svc.BranchCommits(ctx, st.Base, st.Branch); err == nil {
			b.Branch, b.Base, b.Head, b.Commits = st.Branch, st.Base, head, commits
		} else {
			d.Logf("run %s: commits: %v", st.Run, err)
		}
	}
	var rec *runs.Record
	if st.Phase == phaseRecorded {
		// Recorded before a crash: give back per what was recorded, so a
		// run that succeeded still moves its task.
		if r := d.recorded(ctx, st); r != nil {
			rec, b = r, r.RecordBody
		}
	}
	if st.Phase != phaseRecorded {
		var err error
		if rec, err = d.me.RecordRun(ctx, st.Task, b, out); err != nil {
			// A daemon killed after its record landed but before its state
			// said so leaves a run recorded already: the fold refuses a
			// second record, and the run is closed per the first.
			r := d.recorded(ctx, st)
			if r == nil {
				return nil, fmt.Errorf("record run %s: %w", st.Run, err)
			}
			rec, b = r, r.RecordBody
		}
		if err := d.update(st, func() { st.Phase = phaseRecorded }); err != nil {
			d.Logf("run %s: state: %v", st.Run, err)
		}
		d.Logf("run %s recorded: %s", st.Run, b.Summary())
	}
	d.giveBack(ctx, r, &b, final)
	if st.Worktree != "" {
		d.svc.RemoveWorktree(ctx, st.Worktree)
	}
	if st.RunDir != "" {
		os.RemoveAll(st.RunDir)
	}
	d.states.remove(st.Run)
	if wf, err := d.svc.Workflow(); err == nil {
		if t, err := d.svc.Task(ctx, st.Task); err == nil && t.State == wf.Done() {
			d.checkpoint(ctx, "task "+t.ID+" reached "+t.State)
		}
	}
	_ = a
	return rec, nil
}

// recorded is the run record of st's run, nil if there is none (or the
// records cannot be read).
func (d *Daemon) recorded(ctx context.Context, st *runState) *runs.Record {
	rs, err := d.svc.Runs(ctx, st.Task)
	if err != nil {
		return nil
	}
	for _, r := range rs {
		if r.Run == st.Run {
			return r
		}
	}
	return nil
}

// giveBack moves the task per the manifest and ends the run's lease: with
// a handoff from the final message if the agent left none during the run,
// else a release. b is nil when the run never got as far as a record.
func (d *Daemon) giveBack(ctx context.Context, r *run, b *runs.RecordBody, final ...string) {
	st, a := r.st, r.agent
	as := d.svc.As(st.Identity)
	t, err := as.Task(ctx, st.Task)
	if err != nil {
		d.Logf("run %s: %v", st.Run, err)
		return
	}
	now := d.o.Now()
	if !t.Lease.HeldBy(st.Identity) || t.Lease.Epoch != st.Epoch || !t.Lease.ActiveAt(now) {
		return // handed off by the agent, expired, or taken: nothing to give back
	}
	ok := b != nil && b.Succeeded()
	to := ""
	if b != nil && (b.Outcome == runs.Exited || b.Outcome == runs.TimedOut) {
		if ok {
			to = a.OnSuccess
		} else {
			to = a.OnFailure
		}
	}
	if to != "" && to != t.State {
		if moved, err := as.MoveTask(ctx, covenant.MoveRequest{Task: st.Task, To: to, Note: "run " + st.Run}); err != nil {
			d.Logf("run %s: move %s to %s: %v", st.Run, st.Task, to, err)
		} else {
			t = moved
		}
	}
	wf, _ := d.svc.Workflow()
	if t.Handoffs == st.Handoffs && (wf == nil || !wf.IsFinal(t.State)) {
		h := tasks.Handoff{Next: []string{}, Questions: []string{}, Files: []tasks.FileRef{}, Commits: []string{}, Branch: st.Branch}
		msg := ""
		if len(final) > 0 {
			msg = final[0]
		}
		switch {
		case b == nil:
			h.Summary = "run " + st.Run + " ended before it started"
		case b.Outcome == runs.Stopped:
			h.Summary = "checkpoint: run " + st.Run + " was stopped by the daemon"
			h.Next = append(h.Next, "resume from branch "+st.Branch)
		case b.Outcome == runs.Abandoned:
			h.Summary = "run " + st.Run + " was abandoned: its daemon died and the process was gone on restart"
			h.Next = append(h.Next, "resume from branch "+st.Branch)
		default:
			h.Summary = b.Summary()
		}
		if msg != "" {
			h.Summary += ": " + msg
		}
		if len(h.Summary) > 4000 {
			h.Summary = h.Summary[:4000]
		}
		h.Validation = tasks.Validation{Status: "not-run"}
		if b != nil && b.Validation != nil {
			h.Validation = tasks.Validation{Status: "failed", Note: fmt.Sprintf("validation exited %d", b.Validation.ExitCode)}
			if b.Validation.ExitCode == 0 && !b.Validation.TimedOut {
				h.Validation.Status = "passed"
			}
		}
		if b != nil {
			h.Commits, h.Head = b.Commits, b.Head
			if h.Commits == nil {
				h.Commits = []string{}
			}
		}
		if _, err := as.RunHandoff(ctx, st.Task, h); err == nil {
			return
		} else {
			d.Logf("run %s: handoff: %v; releasing instead", st.Run, err)
		}
	}
	if _, err := as.Release(ctx, st.Task); err != nil {
		d.Logf("run %s: release %s: %v", st.Run, st.Task, err)
	}
}
