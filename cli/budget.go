package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/git-covenant/git-covenant/budget"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/spf13/cobra"
)

func newCmdBudget(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "budget <command>",
		Short: "Set budgets, see what is spent and left, resume paused runs",
		Long: `A budget limits what runs of an identity, or on a task, may use per hour, day
or task: wall time, CPU time, model tokens, credits (millionths of a US
dollar, as the agent reports its cost). Spent is the sum of the receipts in
the window. The daemon checks a run's budgets before it starts and its wall
and CPU time while it runs; at a limit it stops the agent gracefully, gives
the lease back with a handoff, and writes a pause checkpoint.
'budget resume <checkpoint>' resumes one once and re-dispatches the task.`,
	}
	c.AddCommand(newCmdBudgetSet(f, nil), newCmdBudgetStatus(f, nil), newCmdBudgetCheckpoints(f, nil), newCmdBudgetResume(f, nil))
	return c
}

type budgetSetOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Subject string
	Wall    time.Duration
	CPU     time.Duration
	Tokens  int64
	Credits int64
	Per     string
	JSON    bool
}

func newCmdBudgetSet(f *Factory, runF func(context.Context, *budgetSetOptions) error) *cobra.Command {
	o := &budgetSetOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "set <identity | task> [--wall <d>] [--cpu <d>] [--tokens <n>] [--credits <n>] [--per {hour | day | task}]",
		Short: "Set the budget of an identity or a task (needs budget.admin)",
		Long: `Replaces the subject's budget; a limit left out (or 0) is no limit, and no
limits at all removes the budget. The subject is an identity name, a task id
(or prefix), or identity:<name> / task:<id>.`,
		Example: "  $ git covenant budget set bot --cpu 10s --wall 1h --per day\n  $ git covenant budget set tk-3f2a --tokens 200000 --credits 5000000 --per task",
		Args:    exactArgs(1, "one <identity | task>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Subject = args[0]
			return runCmd(c, o, runF, runBudgetSet)
		},
	}
	c.Flags().DurationVar(&o.Wall, "wall", 0, "wall time")
	c.Flags().DurationVar(&o.CPU, "cpu", 0, "CPU time (user and system, the agent's whole process group)")
	c.Flags().Int64Var(&o.Tokens, "tokens", 0, "model tokens, in and out")
	c.Flags().Int64Var(&o.Credits, "credits", 0, "credits (millionths of a US dollar)")
	c.Flags().StringVar(&o.Per, "per", budget.Day, "window: hour, day or task")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the budget as budget/1")
	return c
}

func runBudgetSet(ctx context.Context, o *budgetSetOptions) error {
	if o.Wall < 0 || o.CPU < 0 || o.Tokens < 0 || o.Credits < 0 {
		return usagef("limits cannot be negative")
	}
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	subject, err := svc.BudgetSubject(ctx, o.Subject)
	if err != nil {
		return err
	}
	b, err := svc.SetBudget(ctx, budget.SetBody{Subject: subject, Per: o.Per,
		Limits: budget.Amounts{WallMS: o.Wall.Milliseconds(), CPUMS: o.CPU.Milliseconds(), Tokens: o.Tokens, Credits: o.Credits}})
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, b)
	}
	if b.Limits.Zero() {
		fmt.Fprintf(o.Out, "budget of %s removed\n", b.Subject)
		return nil
	}
	fmt.Fprintf(o.Out, "budget of %s per %s: %s\n", b.Subject, b.Per, amounts(b.Limits))
	return nil
}

func amounts(a budget.Amounts) string {
	s := ""
	add := func(v string) {
		if s != "" {
			s += ", "
		}
		s += v
	}
	if a.WallMS > 0 {
		add("wall " + (time.Duration(a.WallMS) * time.Millisecond).String())
	}
	if a.CPUMS > 0 {
		add("cpu " + (time.Duration(a.CPUMS) * time.Millisecond).String())
	}
	if a.Tokens > 0 {
		add(fmt.Sprintf("%d tokens", a.Tokens))
	}
	if a.Credits > 0 {
		add(fmt.Sprintf("%d credits", a.Credits))
	}
	if s == "" {
		return "none"
	}
	return s
}

type budgetStatusOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Now     func() time.Time

	JSON bool
}

func newCmdBudgetStatus(f *Factory, runF func(context.Context, *budgetStatusOptions) error) *cobra.Command {
	o := &budgetStatusOptions{Out: f.Out, Service: f.Service, Now: time.Now}
	c := &cobra.Command{
		Use:     "status [--json]",
		Short:   "Show every budget with what is spent and left in its window",
		Example: "  $ git covenant budget status\n  $ git covenant budget status --json | jq '.[] | select(.exhausted | length > 0)'",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, _ []string) error { return runCmd(c, o, runF, runBudgetStatus) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array of budget-status/1 ([] when none)")
	return c
}

func runBudgetStatus(ctx context.Context, o *budgetStatusOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	st, err := svc.BudgetStatus(ctx, o.Now())
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, st)
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tPER\tLIMITS\tSPENT\tREMAINING\tREFILL")
	for _, s := range st {
		subj := s.Subject
		if s.Task != "" {
			subj += " on " + s.Task
		}
		ref := "-"
		if !s.RefillAt.IsZero() {
			ref = s.RefillAt.Format(time.RFC3339)
		}
		rem := amounts(s.Remaining)
		if len(s.Exhausted) > 0 {
			rem = "exhausted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", subj, s.Per, amounts(s.Limits), amounts(s.Spent), rem, ref)
	}
	return tw.Flush()
}

type budgetCheckpointsOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdBudgetCheckpoints(f *Factory, runF func(context.Context, *budgetCheckpointsOptions) error) *cobra.Command {
	o := &budgetCheckpointsOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "checkpoints [--json]",
		Short:   "List the pause checkpoints, oldest first",
		Example: "  $ git covenant budget checkpoints",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, _ []string) error { return runCmd(c, o, runF, runBudgetCheckpoints) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array of checkpoint/1 ([] when none)")
	return c
}

func runBudgetCheckpoints(ctx context.Context, o *budgetCheckpointsOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	cps, err := svc.Checkpoints(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, cps)
	}
	for _, c := range cps {
		state := "paused"
		if c.Resumed != nil {
			state = "resumed by " + c.Resumed.By.Name
		}
		fmt.Fprintf(o.Out, "%s  %s  %s  run %s of %s: %s (used %s)\n", c.ID, c.Task, state, c.Run, c.Agent, c.Reason, amounts(c.Requested))
	}
	return nil
}

type budgetResumeOptions struct {
	Out     io.Writer
	Err     io.Writer
	Env     []string
	Getenv  func(string) string
	Service func(context.Context) (*covenant.Service, error)

	Checkpoint string
	Identity   string
	JSON       bool
}

func newCmdBudgetResume(f *Factory, runF func(context.Context, *budgetResumeOptions) error) *cobra.Command {
	o := &budgetResumeOptions{Out: f.Out, Err: f.Err, Env: f.Env, Getenv: f.Getenv, Service: f.Service}
	c := &cobra.Command{
		Use:   "resume <checkpoint> [--json]",
		Short: "Resume a paused run once and re-dispatch its task (needs budget.admin)",
		Long: `Writes the checkpoint's budget.resume op, then dispatches its task in the
foreground with the checkpoint's manifest, as 'git covenant run' does, from
the handoff the paused run left. A checkpoint is resumed once: a second
resume is refused, on this clone and on any other once the first has
synced (the first resume by fold order wins). The resumed run is not held
to the budget that paused it; what it uses is debited by its own record.`,
		Example: "  $ git covenant budget resume pc-3f2a9b1c0d4e",
		Args:    exactArgs(1, "one <checkpoint>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Checkpoint = args[0]
			return runCmd(c, o, runF, runBudgetResume)
		},
	}
	c.Flags().StringVar(&o.Identity, "identity", "", "the daemon identity that signs the run record")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the new run record as run/1")
	return c
}

func runBudgetResume(ctx context.Context, o *budgetResumeOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	cp, err := svc.ResumeCheckpoint(ctx, o.Checkpoint)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Err, "resumed %s: re-dispatching %s with %s\n", cp.ID, cp.Task, cp.Manifest)
	d, err := daemon.New(daemon.Options{Service: svc, Identity: o.Identity, Env: o.Env, Log: o.Err,
		LoadAgents: daemon.LoadManifests(svc, o.Getenv("HOME")), CheckpointEvery: -1})
	if err != nil {
		return err
	}
	rec, err := d.ResumeTask(ctx, cp)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, rec)
	}
	fmt.Fprintf(o.Out, "%s\n", rec.Summary())
	return nil
}
