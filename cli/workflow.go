package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/hooks"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/spf13/cobra"
)

type taskReadyOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Label, For string
	JSON       bool
}

func newCmdTaskReady(f *Factory, runF func(context.Context, *taskReadyOptions) error) *cobra.Command {
	o := &taskReadyOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "ready [--label <l>] [--for <identity>] [--json]",
		Short: "List tasks ready to be claimed: unleased, claimable, all blockers finished",
		Long: `List the ready queue: tasks in a claimable state with no active lease whose
blockers ('task link <a> blocks <b>') are all finished; highest priority
first, then oldest. 'task start' with no id claims the first of them.
With --for, only the tasks that identity may claim now (its grants'
task.claim scope covers the task's labels).`,
		Example: "  $ git covenant task ready\n  $ git covenant task ready --label backend --json\n  $ git covenant task ready --for builder-1",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runTaskReady) },
	}
	c.Flags().StringVar(&o.Label, "label", "", "only tasks with this label")
	c.Flags().StringVar(&o.For, "for", "", "only tasks this identity may claim")
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array ([] when empty)")
	return c
}

func runTaskReady(ctx context.Context, o *taskReadyOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	each := func(fn func([]byte, *tasks.Summary) error) error {
		return svc.ReadyFor(ctx, covenant.ReadyRequest{Label: o.Label, For: o.For}, func(raw []byte) error { return fn(raw, nil) })
	}
	return listTasks(o.Out, each, "", "", o.JSON)
}

type taskMoveOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task, To, Note string
	JSON           bool
}

func newCmdTaskMove(f *Factory, runF func(context.Context, *taskMoveOptions) error) *cobra.Command {
	o := &taskMoveOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "move <id> <state> [--note <text>]",
		Short: "Move a task to another state of the workflow",
		Long: `Move a task along the workflow ('git covenant workflow show'). Illegal moves
are refused naming the allowed ones; moves guarded by gates are refused
naming what is missing; while someone holds the task's lease only they may
move it.`,
		Example: "  $ git covenant task move tk-3f2a self_review --note \"tests green locally\"",
		Args:    exactArgs(2, "<id> and <state>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task, o.To = args[0], args[1]
			return runCmd(c, o, runF, runTaskMove)
		},
	}
	c.Flags().StringVar(&o.Note, "note", "", "why")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskMove(ctx context.Context, o *taskMoveOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.MoveTask(ctx, covenant.MoveRequest{Task: o.Task, To: o.To, Note: o.Note})
	if err != nil {
		return err
	}
	return printTaskResult(o.Out, o.JSON, t, fmt.Sprintf("%s is now %s.", t.ID, t.State))
}

type taskHeartbeatOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task string
	TTL  time.Duration
	JSON bool
}

func newCmdTaskHeartbeat(f *Factory, runF func(context.Context, *taskHeartbeatOptions) error) *cobra.Command {
	o := &taskHeartbeatOptions{Out: f.Out, Service: f.Service}
	var ttl string
	c := &cobra.Command{
		Use:   "heartbeat <id> [--ttl <duration>]",
		Short: "Renew your lease on a task: it then ends --ttl from now",
		Long: `Set the lease you hold on a task to end at now + ttl, keeping its epoch.
A ttl shorter than the time left shortens the lease (to give the task back
sooner); the output then says "shortened" and when the lease ends.`,
		Example: "  $ git covenant task heartbeat tk-3f2a --ttl 30m",
		Args:    exactArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			d, err := time.ParseDuration(ttl)
			if err != nil {
				return usagef("--ttl %q is not a duration (try 30m, 2h or 1h30m)", ttl)
			}
			o.Task, o.TTL = args[0], d
			return runCmd(c, o, runF, runTaskHeartbeat)
		},
	}
	c.Flags().StringVar(&ttl, "ttl", covenant.DefaultTTL.String(), "new lease length from now")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskHeartbeat(ctx context.Context, o *taskHeartbeatOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	var was time.Time // when the lease would have ended, to say which way it moved
	if before, err := svc.Task(ctx, o.Task); err == nil && before.Lease != nil {
		was = before.Lease.ExpiresAt
	}
	t, err := svc.Heartbeat(ctx, covenant.LeaseRequest{Task: o.Task, TTL: o.TTL})
	if err != nil {
		return err
	}
	until := t.Lease.ExpiresAt
	msg := fmt.Sprintf("Lease on %s (epoch %d) extended until %s.", t.ID, t.Lease.Epoch, until.Format(time.RFC3339))
	if until.Before(was) {
		msg = fmt.Sprintf("Lease on %s (epoch %d) shortened: it now ends at %s instead of %s.", t.ID, t.Lease.Epoch, until.Format(time.RFC3339), was.Format(time.RFC3339))
	}
	return printTaskResult(o.Out, o.JSON, t, msg)
}

type taskReleaseOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task string
	JSON bool
}

func newCmdTaskRelease(f *Factory, runF func(context.Context, *taskReleaseOptions) error) *cobra.Command {
	o := &taskReleaseOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "release <id>",
		Short:   "Give back your lease on a task",
		Example: "  $ git covenant task release tk-3f2a",
		Args:    exactArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task = args[0]
			return runCmd(c, o, runF, runTaskRelease)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskRelease(ctx context.Context, o *taskReleaseOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.Release(ctx, o.Task)
	if err != nil {
		return err
	}
	return printTaskResult(o.Out, o.JSON, t, fmt.Sprintf("Released %s.", t.ID))
}

type taskLinkOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task, Kind, Other string
	JSON              bool
}

func newCmdTaskLink(f *Factory, runF func(context.Context, *taskLinkOptions) error) *cobra.Command {
	o := &taskLinkOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "link <id> {blocks | parent-of | relates-to | discovered-from} <other>",
		Short: "Link two tasks",
		Long: `Record a typed link from one task to another. 'a blocks b' keeps b out of the
ready queue until a is finished; cycles of blocks (or parent-of) links are
refused.`,
		Example: "  $ git covenant task link tk-3f2a blocks tk-9c1d\n  $ git covenant task link tk-77aa discovered-from tk-3f2a",
		Args:    exactArgs(3, "<id>, a link kind and <other>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task, o.Kind, o.Other = args[0], args[1], args[2]
			return runCmd(c, o, runF, runTaskLink)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskLink(ctx context.Context, o *taskLinkOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.LinkTasks(ctx, covenant.LinkRequest{Task: o.Task, Kind: o.Kind, Other: o.Other})
	if err != nil {
		return err
	}
	l := t.Links[len(t.Links)-1]
	return printTaskResult(o.Out, o.JSON, t, fmt.Sprintf("%s %s %s.", t.ID, l.Kind, l.Task))
}

type taskReviewOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task, Gate, Verdict, Note string
	JSON                      bool
}

func newCmdTaskReview(f *Factory, runF func(context.Context, *taskReviewOptions) error) *cobra.Command {
	o := &taskReviewOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "review <id> --gate <g> {approve | reject} --note <text>",
		Short: "Approve or reject an approval gate",
		Long: `Record a review verdict for an approval gate (e.g. review.code). The gate is
satisfied while the latest verdict is approve; independent gates do not
count approvals by anyone who held a lease on the task.`,
		Example: "  $ git covenant task review tk-3f2a --gate review.code approve --note \"LGTM\"",
		Args:    exactArgs(2, "<id> and approve or reject"),
		RunE: func(c *cobra.Command, args []string) error {
			if o.Gate == "" || strings.TrimSpace(o.Note) == "" {
				return usagef("--gate and --note are required")
			}
			o.Task, o.Verdict = args[0], args[1]
			return runCmd(c, o, runF, runTaskReview)
		},
	}
	c.Flags().StringVar(&o.Gate, "gate", "", "approval gate name (required)")
	c.Flags().StringVar(&o.Note, "note", "", "what you checked (required)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskReview(ctx context.Context, o *taskReviewOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.Review(ctx, covenant.ReviewRequest{Task: o.Task, Gate: o.Gate, Verdict: o.Verdict, Note: o.Note})
	if err != nil {
		return err
	}
	rec := t.Gates[o.Gate]
	msg := fmt.Sprintf("Recorded %s %s on %s.", o.Gate, o.Verdict, t.ID)
	if rec != nil && !rec.Satisfied && rec.Reason != "" {
		msg += " It does not satisfy the gate: " + rec.Reason + "."
	}
	return printTaskResult(o.Out, o.JSON, t, msg)
}

type taskCheckOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Dir     string // where the command runs

	Task, Gate string
	Argv       []string
	JSON       bool
}

func newCmdTaskCheck(f *Factory, runF func(context.Context, *taskCheckOptions) error) *cobra.Command {
	o := &taskCheckOptions{Out: f.Out, Service: f.Service, Dir: f.Dir}
	c := &cobra.Command{
		Use:   "check <id> --gate <g> -- <command>...",
		Short: "Run a command and record its result as evidence for a check gate",
		Long: `Run a command in the working tree and record, as a signed op, its exit
status, duration, the sha256 digest of its combined output and the commit it
ran on; the output itself rides along as an artifact (its last 1 MiB). A
check gate (e.g. tests) is satisfied while the latest check passed. The
command's exit status does not change this command's.`,
		Example: "  $ git covenant task check tk-3f2a --gate tests -- make test",
		RunE: func(c *cobra.Command, args []string) error {
			dash := c.ArgsLenAtDash()
			if dash != 1 || len(args) < 2 {
				return usagef("usage: git covenant task check <id> --gate <g> -- <command>...")
			}
			if o.Gate == "" {
				return usagef("--gate is required")
			}
			o.Task, o.Argv = args[0], args[1:]
			return runCmd(c, o, runF, runTaskCheck)
		},
	}
	c.Flags().StringVar(&o.Gate, "gate", "", "check gate name (required)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the gate record as JSON")
	return c
}

func runTaskCheck(ctx context.Context, o *taskCheckOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	run, err := svc.RunCheck(ctx, covenant.RunCheckRequest{Task: o.Task, Gate: o.Gate, Argv: o.Argv, Dir: o.Dir})
	if err != nil {
		return err
	}
	t, code, dur := run.Task, run.ExitCode, run.Duration
	if o.JSON {
		return printJSON(o.Out, t.Gates[o.Gate])
	}
	result := "passed"
	if code != 0 {
		result = fmt.Sprintf("failed (exit %d)", code)
	}
	fmt.Fprintf(o.Out, "%s %s in %s; recorded as %s evidence on %s.\n", strings.Join(o.Argv, " "), result, dur.Round(time.Millisecond), o.Gate, t.ID)
	return nil
}

type taskEscalateOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task, Kind, Reason string
	JSON               bool
}

func newCmdTaskEscalate(f *Factory, runF func(context.Context, *taskEscalateOptions) error) *cobra.Command {
	o := &taskEscalateOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "escalate <id> --kind {credentials | destructive | production | decision} --reason <text>",
		Short: "Ask a human: move the task to escalated with what is needed",
		Long: `Move a task to escalated, recording what a human must provide or decide.
'git covenant task list --state escalated' is the human's inbox; only a human
identity can 'task resolve' it, which returns it to its previous state.`,
		Example: "  $ git covenant task escalate tk-3f2a --kind production --reason \"needs a prod DB migration\"",
		Args:    exactArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task = args[0]
			return runCmd(c, o, runF, runTaskEscalate)
		},
	}
	c.Flags().StringVar(&o.Kind, "kind", "", "credentials, destructive, production or decision (required)")
	c.Flags().StringVar(&o.Reason, "reason", "", "what is needed (required)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskEscalate(ctx context.Context, o *taskEscalateOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.Escalate(ctx, covenant.EscalateRequest{Task: o.Task, Kind: o.Kind, Reason: o.Reason})
	if err != nil {
		return err
	}
	return printTaskResult(o.Out, o.JSON, t, fmt.Sprintf("%s escalated (%s); a human resolves it with: git covenant task resolve %s --decision <text>", t.ID, o.Kind, t.ID))
}

type taskResolveOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task, Decision string
	JSON           bool
}

func newCmdTaskResolve(f *Factory, runF func(context.Context, *taskResolveOptions) error) *cobra.Command {
	o := &taskResolveOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "resolve <id> --decision <text>",
		Short:   "Resolve an escalation (human identities only)",
		Long:    "Record a human's decision on an escalated task and return it to the state it was escalated from.",
		Example: "  $ git covenant task resolve tk-3f2a --decision \"approved, run it Tuesday\"",
		Args:    exactArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task = args[0]
			return runCmd(c, o, runF, runTaskResolve)
		},
	}
	c.Flags().StringVar(&o.Decision, "decision", "", "the decision (required)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskResolve(ctx context.Context, o *taskResolveOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.Resolve(ctx, o.Task, o.Decision)
	if err != nil {
		return err
	}
	return printTaskResult(o.Out, o.JSON, t, fmt.Sprintf("Resolved %s; it is %s again.", t.ID, t.State))
}

type taskCommentOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task, Text string
	JSON       bool
}

func newCmdTaskComment(f *Factory, runF func(context.Context, *taskCommentOptions) error) *cobra.Command {
	o := &taskCommentOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "comment <id> <text>",
		Short:   "Add a comment to a task",
		Example: "  $ git covenant task comment tk-3f2a \"flaky on arm64 only\"",
		Args:    exactArgs(2, "<id> and <text>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task, o.Text = args[0], args[1]
			return runCmd(c, o, runF, runTaskComment)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskComment(ctx context.Context, o *taskCommentOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.Comment(ctx, o.Task, o.Text)
	if err != nil {
		return err
	}
	return printTaskResult(o.Out, o.JSON, t, fmt.Sprintf("Commented on %s.", t.ID))
}

type taskTrailersOptions struct {
	Out, Err io.Writer
	Service  func(context.Context) (*covenant.Service, error)
	Dir      string // where the hook runs git

	Task string // empty: the task last started in this working tree
	Hook string // a commit message file to add the trailers to
	Auto bool
}

func newCmdTaskTrailers(f *Factory, runF func(context.Context, *taskTrailersOptions) error) *cobra.Command {
	o := &taskTrailersOptions{Out: f.Out, Err: f.Err, Service: f.Service, Dir: f.Dir}
	c := &cobra.Command{
		Use:   "trailers [<id>] [--hook <commit-msg-file>] [--auto]",
		Short: "Print the commit trailers for a task you hold (for scripts and hooks)",
		Long: `Print the Covenant-Task and Covenant-Lease trailers for a task whose lease you
hold; without an id, for the task last started in this working tree.

With --hook (what the prepare-commit-msg hook installed by 'git covenant
hooks install' runs), add them to a commit message file with git
interpret-trailers, into the message's one trailer block: only for a task
whose lease you hold now, and only when the message already names the task
in a Covenant-Task trailer (git commit -m msg -m "Covenant-Task: tk-…") or
you opted in for that task with --auto. Other commits are never stamped.
The hook form never fails a commit.

--auto opts in: every commit in this working tree gets the task's
trailers while you hold its lease (until the next task start).`,

		Example: "  $ git commit -m \"fix\" -m \"$(git covenant task trailers tk-3f2a)\"\n  $ git covenant task trailers tk-3f2a --auto",
		Args:    maxArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Task = args[0]
			}
			return runCmd(c, o, runF, runTaskTrailers)
		},
	}
	c.Flags().StringVar(&o.Hook, "hook", "", "add to this commit message file (the prepare-commit-msg hook)")
	c.Flags().BoolVar(&o.Auto, "auto", false, "opt in: stamp every commit in this working tree with the task's trailers")
	return c
}

func runTaskTrailers(ctx context.Context, o *taskTrailersOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	if o.Hook != "" {
		return hookTrailers(ctx, svc, o.Dir, o.Hook)
	}
	id := o.Task
	if id == "" {
		cur, err := svc.CurrentTask()
		if err != nil {
			return err
		}
		if cur == nil {
			return usagef("no task started in this working tree; name one")
		}
		id = cur.Task
	}
	if o.Auto {
		t, err := svc.OptInTrailers(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Err, "Commits in this working tree now get the trailers of %s while you hold its lease.\n", t.ID)
	}
	tr, err := svc.Trailers(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintln(o.Out, strings.Join(tr, "\n"))
	return nil
}

// hookTrailers is the prepare-commit-msg hook's work: never an error
// that fails the commit, never a trailer for a lease not held now or a
// task the commit does not name (unless opted in).
func hookTrailers(ctx context.Context, svc *covenant.Service, dir, file string) error {
	git := svc.HookGit(ctx, dir)
	have, err := hooks.MessageTrailers(git, file)
	if err != nil {
		return nil
	}
	id := ""
	switch named := have["Covenant-Task"]; len(named) {
	case 0:
		cur, err := svc.CurrentTask()
		if err != nil || cur == nil || !cur.Auto {
			return nil
		}
		id = cur.Task
	case 1:
		id = named[0]
	default:
		return nil // several tasks named: not ours to decide
	}
	tr, err := svc.Trailers(ctx, id)
	if err != nil {
		return nil // no live lease of ours on it: stamp nothing
	}
	hooks.AddTrailers(git, file, tr)
	return nil
}

func newCmdWorkflow(f *Factory) *cobra.Command {
	c := &cobra.Command{Use: "workflow <command>", Short: "Show the task lifecycle of this repository"}
	c.AddCommand(newCmdWorkflowShow(f, nil))
	return c
}

type workflowShowOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdWorkflowShow(f *Factory, runF func(context.Context, *workflowShowOptions) error) *cobra.Command {
	o := &workflowShowOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "show [--json]",
		Short: "Print the active workflow: states, transitions, gates",
		Long: `Print the active workflow: the [workflow] table of .covenant/config.toml, or
the default lifecycle when there is none.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runWorkflowShow) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the workflow as JSON")
	return c
}

func runWorkflowShow(ctx context.Context, o *workflowShowOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	wf, err := svc.Workflow()
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, wf)
	}
	w := o.Out
	fmt.Fprintf(w, "states:   %s\ninitial:  %s\nfinal:    %s\nclaim:    from %s, to %s\n",
		strings.Join(wf.States, ", "), wf.Initial, strings.Join(wf.Final, ", "), strings.Join(wf.ClaimFrom, ", "), wf.ClaimTo)
	if wf.Escalated != "" {
		fmt.Fprintf(w, "escalate: to %s (task escalate / task resolve)\n", wf.Escalated)
	}
	fmt.Fprintln(w, "\ntransitions:")
	for _, s := range wf.States {
		for _, t := range wf.Transitions {
			if !contains(t.From, s) {
				continue
			}
			extra := ""
			if len(t.Gates) > 0 {
				extra += "  gates: " + strings.Join(t.Gates, ", ")
			}
			if len(t.Roles) > 0 {
				extra += "  roles: " + strings.Join(t.Roles, ", ")
			}
			fmt.Fprintf(w, "  %-13s -> %-13s%s\n", s, t.To, extra)
		}
	}
	fmt.Fprintln(w, "\ngates:")
	for _, g := range wf.Gates {
		extra := ""
		if g.Independent {
			extra = " (not by anyone who held the lease)"
		}
		fmt.Fprintf(w, "  %-13s %s%s\n", g.Name, g.Kind, extra)
	}
	return nil
}
