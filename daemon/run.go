package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/runner"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/sandbox"
	"github.com/git-covenant/git-covenant/tasks"
)

// errLost means the claim went to someone else: not a failure of ours.
var errLost = errors.New("claim lost")

// run is one agent run in flight.
type run struct {
	agent     *Agent
	st        *runState
	tokenHash string
	done      chan struct{}
	live      bool         // the token is accepted
	budget    *budgetWatch // budget.go
	resume    string       // the checkpoint this run resumes
	reported  reported     // usage.go
}

// finishWait bounds the writes that end a run (record, move, handoff),
// which run even after the daemon was told to stop.
const finishWait = 2 * time.Minute

// dispatch runs agent a on task: claim, worktree, token, process,
// heartbeats, record, move, handoff. ctx ending stops the agent (SIGTERM,
// grace, SIGKILL) and the run is still recorded and handed off.
func (d *Daemon) dispatch(ctx context.Context, a *Agent, task string) (*runs.Record, error) {
	r := d.reserved(task)
	if r == nil || r.agent != a {
		return nil, fmt.Errorf("task %s was not reserved for %s", task, a.Name)
	}
	defer d.forget(r)
	defer close(r.done)
	st := r.st
	as := d.svc.As(a.Identity)
	// The state file comes first: a daemon killed after the claim and
	// before anything else still finds what to give back.
	if err := d.budgetGate(ctx, r); err != nil {
		return nil, err
	}
	if err := d.update(st, nil); err != nil {
		return nil, err
	}
	t, err := as.ClaimForRun(ctx, task, a.ttl(), d.o.Sync)
	if err != nil {
		d.states.remove(st.Run)
		if k, ok := covenant.IsRejection(err); ok && (k == oplog.KindLeaseHeld || k == oplog.KindStaleEpoch || k == oplog.KindIllegal) {
			d.Logf("%s: %s not claimed: %v", a.Name, task, err)
			return nil, fmt.Errorf("%w: %w", errLost, err)
		}
		return nil, fmt.Errorf("claim: %w", err)
	}
	if err := d.update(st, func() {
		st.Epoch, st.Phase, st.Handoffs = t.Lease.Epoch, phaseClaimed, t.Handoffs
		st.Branch = "covenant/" + t.ID
	}); err != nil {
		d.giveBack(context.WithoutCancel(ctx), r, nil)
		return nil, err
	}
	d.Logf("%s claimed %s (epoch %d) as %s, run %s", a.Name, t.ID, st.Epoch, a.Identity, st.Run)

	out := d.execute(ctx, r, t)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishWait)
	defer cancel()
	return d.finish(wctx, r, out, ctx.Err() != nil)
}

// outcome is what execute saw of the agent: the runner's result (nil if
// it never started, err says why) and what its output parser read.
type outcome struct {
	res    *runner.Result
	report *agents.Report
	err    error
	// validation is the validation command's result, when one ran.
	validation *runner.Result
	backend    string
}

// execute prepares the worktree, token, environment and confinement and
// runs the agent with its lease heartbeated, then the validation command
// when the agent exited 0.
func (d *Daemon) execute(ctx context.Context, r *run, t *tasks.Task) *outcome {
	a, st := r.agent, r.st
	as := d.svc.As(a.Identity)
	wt, err := d.worktree(ctx, filepath.Join(d.wt, t.ID), st.Branch, a.BaseRef)
	if err != nil {
		return &outcome{err: fmt.Errorf("worktree: %w", err)}
	}
	runDir, err := os.MkdirTemp("", "covenant-run-")
	if err != nil {
		return &outcome{err: err}
	}
	if err := d.update(st, func() { st.Worktree, st.Base, st.RunDir = wt.Dir, wt.Base, runDir }); err != nil {
		return &outcome{err: err}
	}
	tok, err := newToken()
	if err != nil {
		return &outcome{err: err}
	}
	tokFile := filepath.Join(runDir, "token")
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		return &outcome{err: err}
	}
	tmp := filepath.Join(runDir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return &outcome{err: err}
	}
	promptFile := ""
	var prompt []byte
	if a.Prompt != "none" {
		if prompt, err = d.prompt(ctx, t); err != nil {
			return &outcome{err: fmt.Errorf("prompt: %w", err)}
		}
	}
	if a.Prompt == "file" {
		promptFile = filepath.Join(runDir, "prompt.md")
		if err := os.WriteFile(promptFile, prompt, 0o600); err != nil {
			return &outcome{err: err}
		}
	}
	actor, err := as.Actor("")
	if err != nil {
		return &outcome{err: fmt.Errorf("identity %s: %w", a.Identity, err)}
	}
	vars := map[string]string{"task": t.ID, "title": t.Title, "agent": a.Name, "identity": a.Identity, "run": st.Run,
		"worktree": wt.Dir, "branch": st.Branch, "base": wt.Base, "prompt_file": promptFile, "mcp_config": d.mcpConfig(a), "tmp": tmp}
	env, err := d.env(a, st, vars, actor.KeyID, tokFile, promptFile, tmp)
	if err != nil {
		return &outcome{err: err}
	}
	argv, err := a.argv(vars)
	if err != nil {
		return &outcome{err: err}
	}
	if err := d.update(st, func() { st.Command, st.TokenSHA256 = commandDigest(argv), hashToken(tok) }); err != nil {
		return &outcome{err: err}
	}
	// Confinement: a backend the host lacks fails the run closed.
	run, backend, plan, err := d.confine(a, argv, wt.Dir, runDir, st.Branch)
	if err != nil {
		return &outcome{err: err}
	}
	defer plan.Close()
	d.admit(r)

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hbDone := d.heartbeat(rctx, r, cancel)
	bwDone := d.watchBudget(rctx, r, cancel)
	parser, err := agents.NewParser(a.Output)
	if err != nil {
		return &outcome{err: err}
	}
	cmd := runner.Command{Argv: run, Env: env, Dir: wt.Dir, Timeout: a.Timeout, Grace: a.Grace, TailBytes: a.OutputCap, Echo: d.echo(parser, st.Run, st.Task), Kill: plan.Kill,
		Started: func(pid int) {
			p, _ := runner.Lookup(pid)
			if err := d.update(st, func() { st.Pid, st.Start = pid, p.Start }); err != nil {
				d.Logf("run %s: state: %v", st.Run, err)
			}
			d.Logf("run %s: %s started pid %d in %s (sandbox %s)", st.Run, a.Name, pid, wt.Dir, backend)
		}}
	if a.Prompt == "stdin" || a.Prompt == "" {
		cmd.Stdin = bytes.NewReader(prompt)
	}
	res, err := runner.Run(rctx, cmd)
	cancel()
	<-hbDone
	<-bwDone
	out := &outcome{res: res, report: parser.Report(), err: err, backend: backend}
	if res == nil || ctx.Err() != nil || res.TimedOut || out.report.Failed(res.ExitCode) || len(a.Validation) == 0 {
		return out
	}
	vargv, err := agents.Expand(a.Validation, vars)
	if err != nil {
		out.err = err
		return out
	}
	vrun, _, vplan, err := d.confine(a, vargv, wt.Dir, runDir, st.Branch)
	if err != nil {
		out.err = err
		return out
	}
	defer vplan.Close()
	out.validation, err = runner.Run(ctx, runner.Command{Argv: vrun, Env: env, Dir: wt.Dir, Timeout: a.ValidationTimeout, Grace: a.Grace, TailBytes: 4 << 10, Kill: vplan.Kill})
	if err != nil && out.validation == nil {
		out.err = fmt.Errorf("validation: %w", err)
	}
	return out
}

// worktree checks the run's branch out in dir: a worktree the pool has
// ready at the commit the branch starts from is taken with no git
// process; else (none ready, the branch moved on, no pool) it is checked
// out now.
func (d *Daemon) worktree(ctx context.Context, dir, branch, base string) (*covenant.Worktree, error) {
	if c, ok := d.svc.RunStart(branch, base); ok {
		if from, ok := d.pool.take(c); ok {
			defer d.pool.refill()
			wt, err := d.svc.TakeWorktree(ctx, from, dir, branch, base)
			if err == nil {
				d.Logf("worktree %s: taken from the pool at %s", dir, c[:12])
				return wt, nil
			}
			d.Logf("worktree pool: %v; checking out instead", err)
			d.svc.RemoveWorktree(context.WithoutCancel(ctx), from)
		}
	}
	defer d.pool.refill()
	return d.svc.AddWorktree(ctx, dir, branch, base)
}

// confine returns the argv that runs argv under the agent's sandbox
// backend, the backend's name, and the plan (Kill for the runner, Close
// after the run; a nil plan does nothing).
func (d *Daemon) confine(a *Agent, argv []string, worktree, runDir, branch string) ([]string, string, *sandbox.Plan, error) {
	b, err := sandbox.ParseBackend(a.Sandbox)
	if err != nil {
		return nil, "", nil, err
	}
	if b == sandbox.None {
		if a.Limits.IsZero() {
			return argv, "none", &sandbox.Plan{Backend: sandbox.None}, nil
		}
		// No confinement, but the limits still hold from the agent's first
		// instruction: the helper sets them (and joins a cgroup where one
		// is writable) before it executes the agent.
		plan, err := sandbox.Prepare(sandbox.Spec{Backend: sandbox.None, Writable: []string{worktree, runDir}, Limits: a.Limits}, argv, sandbox.Options{Self: d.o.Self})
		if err != nil {
			return nil, "", nil, fmt.Errorf("sandbox: %w", err)
		}
		return plan.Argv, "none", plan, nil
	}
	_, common := d.svc.RefsDirs()
	admin, err := d.svc.WorktreeAdminDir(worktree)
	if err != nil {
		return nil, "", nil, err
	}
	gw, err := sandbox.GitWritable(common, admin, branch)
	if err != nil {
		return nil, "", nil, err
	}
	spec := sandbox.Spec{Backend: b, Writable: append([]string{worktree, runDir}, gw...),
		Hidden: []string{d.svc.KeystoreDir(), d.cov}, Network: a.Network, Limits: a.Limits}
	if p := d.gwPath(); p != "" {
		spec.Sockets = []string{p} // the gateway stays reachable inside the hidden .git/covenant
	}
	plan, err := sandbox.Prepare(spec, argv, sandbox.Options{Self: d.o.Self})
	if err != nil {
		return nil, "", nil, fmt.Errorf("sandbox: %w", err)
	}
	return plan.Argv, string(plan.Backend), plan, nil
}

// admit makes the run's token valid.
func (d *Daemon) admit(r *run) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r.tokenHash, r.live = r.st.TokenSHA256, true
	d.tokens[r.tokenHash] = r
}

// revoke ends the run's token.
func (d *Daemon) revoke(r *run) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r.live = false
	delete(d.tokens, r.tokenHash)
}

// heartbeat extends the run's lease every third of its ttl until ctx ends;
// a lease lost (another holder, a stale epoch) stops the agent: it is
// fenced, its later writes would be refused anyway.
func (d *Daemon) heartbeat(ctx context.Context, r *run, stop context.CancelFunc) <-chan struct{} {
	done := make(chan struct{})
	ttl := r.agent.ttl()
	as := d.svc.As(r.st.Identity)
	go func() {
		defer close(done)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := as.Heartbeat(ctx, covenant.LeaseRequest{Task: r.st.Task, TTL: ttl}); err != nil {
				if _, ok := covenant.IsRejection(err); ok {
					d.Logf("run %s: lease on %s lost (%v); stopping the agent", r.st.Run, r.st.Task, err)
					stop()
					return
				}
				d.Logf("run %s: heartbeat: %v", r.st.Run, err)
			}
		}
	}()
	return done
}

// env is the agent's whole environment: what the manifest allows of the
// daemon's, its fixed variables and secrets, and the run's own. Nothing
// that reaches a keystore or acts as another identity passes.
func (d *Daemon) env(a *Agent, st *runState, vars map[string]string, keyID, tokFile, promptFile, tmp string) ([]string, error) {
	email := keyID + "@covenant.invalid"
	own := []string{
		"GIT_COVENANT_RUN_TOKEN_FILE=" + tokFile,
		"GIT_COVENANT_SOCKET=" + d.gwPath(),
		"GIT_COVENANT_RUN=" + st.Run,
		"GIT_COVENANT_TASK=" + st.Task,
		fmt.Sprintf("GIT_COVENANT_EPOCH=%d", st.Epoch),
		"TMPDIR=" + tmp,
		"GIT_AUTHOR_NAME=" + st.Identity, "GIT_AUTHOR_EMAIL=" + email,
		"GIT_COMMITTER_NAME=" + st.Identity, "GIT_COMMITTER_EMAIL=" + email,
	}
	if promptFile != "" {
		own = append(own, "GIT_COVENANT_PROMPT_FILE="+promptFile)
	}
	if a.Manifest != nil {
		env, err := a.Manifest.Environ(d.o.Env, vars, d.o.Home, own...)
		if err != nil {
			return nil, err
		}
		return stripReserved(env, own), nil
	}
	var env []string
	for _, name := range a.Env {
		if reserved(name) {
			continue
		}
		if v, ok := lookupEnv(d.o.Env, name); ok {
			env = append(env, name+"="+v)
		}
	}
	for k, v := range a.Set {
		if !reserved(k) {
			env = append(env, k+"="+v)
		}
	}
	for k, path := range a.Secrets {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", k, err)
		}
		env = append(env, k+"="+strings.TrimRight(string(b), "\r\n"))
	}
	return append(env, own...), nil
}

// stripReserved drops the reserved variables env got from anywhere but
// the daemon's own list.
func stripReserved(env, own []string) []string {
	mine := map[string]bool{}
	for _, kv := range own {
		mine[kv] = true
	}
	out := env[:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if reserved(k) && !mine[kv] {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// reserved names are set by the daemon alone: the keystore location, the
// acting identity and git's repository overrides never come from outside.
func reserved(name string) bool {
	return strings.HasPrefix(name, "GIT_COVENANT_") || name == "GIT_DIR" || name == "GIT_WORK_TREE" ||
		name == "GIT_INDEX_FILE" || name == "GIT_OBJECT_DIRECTORY" || name == "GIT_CONFIG_PARAMETERS" ||
		name == "SSH_AUTH_SOCK" || name == "TMPDIR"
}

func lookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// prompt is the task as the agent gets it: built from the resume pack.
func (d *Daemon) prompt(ctx context.Context, t *tasks.Task) ([]byte, error) {
	p, err := d.svc.Resume(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Task %s: %s\n\n", t.ID, t.Title)
	if t.Body != "" {
		fmt.Fprintf(&b, "%s\n\n", t.Body)
	}
	fmt.Fprintf(&b, "State: %s. Priority: %s. Labels: %s. Lease epoch: %d.\n", p.Task.State, t.Priority, strings.Join(t.Labels, ", "), t.Lease.Epoch)
	fmt.Fprintf(&b, "Work on branch covenant/%s in this directory and commit there.\n", t.ID)
	if len(t.FailureModes) > 0 {
		b.WriteString("\nExpected failure modes:\n")
		for _, f := range t.FailureModes {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	if h := p.Handoff; h != nil {
		fmt.Fprintf(&b, "\n## Latest handoff\n\n%s\n", h.Summary)
		for _, n := range h.Next {
			fmt.Fprintf(&b, "- next: %s\n", n)
		}
	}
	for _, q := range p.OpenQuestions {
		fmt.Fprintf(&b, "- open question %d: %s\n", q.N, q.Text)
	}
	return []byte(b.String()), nil
}
