package daemon

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/git-covenant/git-covenant/budget"
	"github.com/git-covenant/git-covenant/runs"
)

// BudgetEvery is how often a running agent's use is checked against its
// budgets.
var BudgetEvery = 200 * time.Millisecond

// budgetWatch is what a run knows of its budgets: the allowance when it
// started and, once it was stopped, why.
type budgetWatch struct {
	allow *budget.Allowance
	mu    sync.Mutex
	pause *budget.PauseBody
	used  budget.Amounts // the latest use observed
}

// observedCPU is the CPU time last read from the agent's process tree:
// what the run record counts when the runner saw less (a sandbox's
// inner processes are reaped inside it, out of the runner's rusage).
func (w *budgetWatch) observedCPU() int64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.used.CPUMS
}

func (w *budgetWatch) stopped() *budget.PauseBody {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pause
}

// budgetGate decides whether run r may start: a resumed checkpoint runs
// without a budget check (the resume was the operator's decision; its
// usage is debited by its own record, once), any other run needs every
// applying budget to have something left.
func (d *Daemon) budgetGate(ctx context.Context, r *run) error {
	if r.resume != "" {
		return nil
	}
	a, err := d.svc.Allowance(ctx, r.st.Identity, r.st.Task, d.o.Now())
	if err != nil {
		return fmt.Errorf("budget: %w", err)
	}
	if !a.Any() {
		return nil
	}
	if i := a.Exhausted(); i >= 0 {
		return fmt.Errorf("%w: %s has no %s left (until %s)", budget.ErrExhausted, a.Binding[i], budget.DimNames[i], refill(a.RefillAt[i]))
	}
	r.budget = &budgetWatch{allow: a}
	return nil
}

func refill(t time.Time) string {
	if t.IsZero() {
		return "raised"
	}
	return t.UTC().Format(time.RFC3339)
}

// watchBudget checks the running agent's wall and CPU time (its process
// tree's, from /proc) against its allowance every BudgetEvery; at the
// limit it notes a budget_exhausted pause and stops the agent (the
// runner's graceful stop: SIGTERM, grace, SIGKILL).
func (d *Daemon) watchBudget(ctx context.Context, r *run, stop context.CancelFunc) <-chan struct{} {
	done := make(chan struct{})
	w := r.budget
	if w == nil {
		close(done)
		return done
	}
	began := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(BudgetEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			d.mu.Lock()
			pid := r.st.Pid
			d.mu.Unlock()
			used := budget.Amounts{WallMS: time.Since(began).Milliseconds()}
			if pid > 0 {
				used.CPUMS = treeCPU(pid).Milliseconds()
			}
			w.mu.Lock()
			w.used = used
			w.mu.Unlock()
			if i := w.allow.Over(used); i >= 0 {
				w.mu.Lock()
				w.pause = &budget.PauseBody{Reason: budget.Exhausted, Subject: w.allow.Binding[i], Requested: used, Remaining: w.allow.Left}
				if at := w.allow.RefillAt[i]; !at.IsZero() {
					w.pause.RefillAt = at.UTC().Format(time.RFC3339)
				}
				w.mu.Unlock()
				d.Logf("run %s: %s budget of %s exhausted (used %+v); stopping the agent", r.st.Run, budget.DimNames[i], w.allow.Binding[i], used)
				stop()
				return
			}
		}
	}()
	return done
}

// writePause writes the checkpoint of a run stopped for its budget or by
// the daemon's shutdown, after the run gave its lease back: the handoff
// to resume from is the task's latest.
func (d *Daemon) writePause(ctx context.Context, r *run, b *runs.RecordBody, shutdown bool) {
	p := r.budget.stopped()
	if p == nil && !(shutdown && b.Outcome == runs.Stopped) {
		return
	}
	if p == nil {
		p = &budget.PauseBody{Reason: budget.Shutdown, Requested: budget.Amounts{WallMS: b.DurationMS, CPUMS: b.CPUMS}}
	}
	p.Task, p.Run, p.Agent, p.Manifest, p.Branch, p.Head = r.st.Task, r.st.Run, r.st.Identity, r.st.Agent, b.Branch, b.Head
	if t, err := d.svc.Task(ctx, r.st.Task); err == nil {
		p.Handoff = t.Handoffs
	}
	cp, err := d.me.PauseRun(ctx, *p)
	if err != nil {
		d.Logf("run %s: pause checkpoint: %v", r.st.Run, err)
		return
	}
	d.Logf("run %s paused (%s): checkpoint %s; resume with: git covenant budget resume %s", r.st.Run, p.Reason, cp.ID, cp.ID)
}

// paused reports whether a task's latest run was paused and not resumed
// since: the daemon leaves it to 'budget resume'.
func (d *Daemon) paused(ctx context.Context, task string) bool {
	cps, err := d.svc.Checkpoints(ctx)
	if err != nil || len(cps) == 0 {
		return false
	}
	var last *budget.Pause
	for _, c := range cps {
		if c.Task == task {
			last = c
		}
	}
	if last == nil {
		return false
	}
	rs, err := d.svc.Runs(ctx, task)
	return err == nil && len(rs) > 0 && rs[len(rs)-1].Run == last.Run
}

// treeCPU is the user and system CPU time of a process and all its live
// descendants, with the children they reaped (Linux /proc; 0 elsewhere).
// A process tree, not a process group: a sandbox (bwrap --new-session)
// puts the agent in a session of its own.
func treeCPU(root int) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	type proc struct {
		ppid  int
		ticks int64
	}
	procs := map[int]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
		if len(f) < 15 {
			continue
		}
		p := proc{}
		p.ppid, _ = strconv.Atoi(f[1])
		for _, k := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
			v, _ := strconv.ParseInt(f[k], 10, 64)
			p.ticks += v
		}
		procs[pid] = p
	}
	var ticks int64
	for pid, p := range procs {
		for q, n := pid, 0; n < 64; n++ {
			if q == root {
				ticks += p.ticks
				break
			}
			up, ok := procs[q]
			if !ok || up.ppid == q {
				break
			}
			q = up.ppid
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// ResumeTask re-dispatches a resumed checkpoint's task in the foreground,
// with the checkpoint's manifest, once: the checkpoint must be resumed
// and its run still the task's latest (a run since means it was
// re-dispatched already).
func (d *Daemon) ResumeTask(ctx context.Context, cp *budget.Pause) (*runs.Record, error) {
	if cp.Resumed == nil {
		return nil, fmt.Errorf("%w: checkpoint %s is not resumed", budget.ErrBadBudget, cp.ID)
	}
	rs, err := d.svc.Runs(ctx, cp.Task)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || rs[len(rs)-1].Run != cp.Run {
		return nil, fmt.Errorf("%w: checkpoint %s was re-dispatched already", budget.ErrResumed, cp.ID)
	}
	return d.runTask(ctx, cp.Task, cp.Manifest, cp.ID)
}
