package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/spf13/cobra"
)

func newCmdTask(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "task <command>",
		Short: "Create, claim, hand off and resume tasks",
		Long: `Tasks live in the signed feeds under refs/covenant/feeds/. Ids look like
tk-3f2a9b1c0d4e; any unique prefix of 4 or more characters works.`,
	}
	c.AddCommand(newCmdTaskCreate(f, nil), newCmdTaskStart(f, nil), newCmdTaskShow(f, nil), newCmdTaskList(f, nil),
		newCmdTaskHandoff(f, nil), newCmdTaskResume(f, nil), newCmdTaskDone(f, nil), newCmdTaskReady(f, nil), newCmdTaskMove(f, nil),
		newCmdTaskHeartbeat(f, nil), newCmdTaskRelease(f, nil), newCmdTaskLink(f, nil), newCmdTaskReview(f, nil), newCmdTaskCheck(f, nil),
		newCmdTaskEscalate(f, nil), newCmdTaskResolve(f, nil), newCmdTaskComment(f, nil), newCmdTaskTrailers(f, nil), newCmdTaskAnswer(f, nil), newCmdTaskAccept(f, nil))
	return c
}

type taskCreateOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Body tasks.CreateBody
	JSON bool
}

func newCmdTaskCreate(f *Factory, runF func(context.Context, *taskCreateOptions) error) *cobra.Command {
	o := &taskCreateOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "create <title> [--body <text>] [--label <l>]... [--priority low|medium|high|critical]",
		Short: "Create a task and print its id",
		Example: `  $ git covenant task create "Fix flaky login test" --label ci --priority high
  $ id=$(git covenant task create "Write docs")`,
		Args: exactArgs(1, "one <title> (quote it)"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Body.Title = args[0]
			if err := o.Body.Check(); err != nil {
				return err
			}
			return runCmd(c, o, runF, runTaskCreate)
		},
	}
	c.Flags().StringVar(&o.Body.Body, "body", "", "longer description")
	c.Flags().StringArrayVar(&o.Body.Labels, "label", nil, "label (repeatable)")
	c.Flags().StringVar(&o.Body.Priority, "priority", tasks.DefaultPriority, "low, medium, high or critical")
	c.Flags().StringArrayVar(&o.Body.FailureModes, "failure-mode", nil, "an expected way this can go wrong (repeatable)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the new task as JSON")
	return c
}

func runTaskCreate(ctx context.Context, o *taskCreateOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.CreateTask(ctx, o.Body)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, t)
	}
	fmt.Fprintln(o.Out, t.ID)
	return nil
}

type taskStartOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Start covenant.StartRequest
	JSON  bool
}

func newCmdTaskStart(f *Factory, runF func(context.Context, *taskStartOptions) error) *cobra.Command {
	o := &taskStartOptions{Out: f.Out, Service: f.Service}
	var ttl string
	c := &cobra.Command{
		Use:     "start [<id>] [--ttl <duration>] [--label <l>] [--via <remote>]",
		Aliases: []string{"claim"},
		Short:   "Claim a task (or the top ready task) under a lease and print what the worker needs",
		Long: `Claim a task under a lease (default 2h, at most 168h) and move it to
in_progress. Without an id, atomically claim the top of the ready queue
(highest priority, then oldest; see 'task ready'): two workers starting at
once never get the same task. Each claim raises the task's lease epoch.

Prints the task, its latest handoff and next steps: the same context pack as
'task resume'. Name the task in your commits so resume finds them and verify
can fence them; 'git covenant hooks install' adds the trailers for you:

  Covenant-Task: <id>
  Covenant-Lease: <epoch>

Claims are local-first: another clone may claim the same task until the
clones sync, and the fold's total order then decides. With --via <remote>
the claim is strong: it is kept only if an atomic push of the lease marker
refs/covenant/leases/<id> (and the claim) to the remote succeeds against the
marker's expected old value, so two clones never both believe they hold the
task; if another clone got there first, nothing is kept and the exit status
is 5, naming the holder.`,
		Example: `  $ git covenant task start tk-3f2a --ttl 90m
  $ git covenant task start tk-3f2a --via origin
  $ git covenant task start --label backend --json | jq -r .task.id`,
		Args: maxArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			d, err := time.ParseDuration(ttl)
			if err != nil {
				return usagef("--ttl %q is not a duration (try 30m, 2h or 1h30m)", ttl)
			}
			o.Start.TTL = d
			if len(args) == 0 && o.Start.Via != "" {
				return usagef("--via needs a task <id>")
			}
			if len(args) == 1 {
				if o.Start.Label != "" {
					return usagef("--label only applies without an <id>")
				}
				o.Start.Task = args[0]
			}
			return runCmd(c, o, runF, runTaskStart)
		},
	}
	c.Flags().StringVar(&ttl, "ttl", covenant.DefaultTTL.String(), "lease length (Go duration: 30m, 2h)")
	c.Flags().StringVar(&o.Start.Label, "label", "", "without <id>: only take a ready task with this label")
	c.Flags().StringVar(&o.Start.Via, "via", "", "claim only if the lease marker can be pushed to this remote first")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the context pack as JSON")
	return c
}

func runTaskStart(ctx context.Context, o *taskStartOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	st, err := svc.StartAndResume(ctx, o.Start)
	if err != nil {
		return err
	}
	t, p := st.Task, st.Pack
	if o.JSON {
		return printJSON(o.Out, p)
	}
	fmt.Fprintf(o.Out, "Claimed %s (lease epoch %d, expires %s).\n\n", t.ID, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339))
	printPack(o.Out, p)
	return nil
}

type taskShowOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Now     func() time.Time

	Task string
	JSON bool
}

func newCmdTaskShow(f *Factory, runF func(context.Context, *taskShowOptions) error) *cobra.Command {
	o := &taskShowOptions{Out: f.Out, Service: f.Service, Now: f.Now}
	c := &cobra.Command{
		Use:     "show <id> [--json]",
		Short:   "Show a task with its lease, latest handoff and history",
		Example: "  $ git covenant task show tk-3f2a\n  $ git covenant task show tk-3f2a --json | jq .state",
		Args:    exactArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task = args[0]
			return runCmd(c, o, runF, runTaskShow)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskShow(ctx context.Context, o *taskShowOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	d, err := svc.ShowTask(ctx, o.Task)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, d)
	}
	printTask(o.Out, d.Task, o.Now())
	printIgnored(o.Out, d)
	return nil
}

type taskListOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	State, Label string
	Mine, JSON   bool
}

func newCmdTaskList(f *Factory, runF func(context.Context, *taskListOptions) error) *cobra.Command {
	o := &taskListOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "list [--state <s>] [--label <l>] [--mine] [--json]",
		Short:   "List tasks in creation order",
		Example: "  $ git covenant task list --state in_progress\n  $ git covenant task list --label ci --json",
		Args:    exactArgs(0, "no arguments (filter with --state and --label)"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runTaskList) },
	}
	c.Flags().StringVar(&o.State, "state", "", "only tasks in this state")
	c.Flags().StringVar(&o.Label, "label", "", "only tasks with this label")
	c.Flags().BoolVar(&o.Mine, "mine", false, "only tasks whose active lease you hold")
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array ([] when empty)")
	return c
}

func runTaskList(ctx context.Context, o *taskListOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	wf, err := svc.Workflow()
	if err != nil {
		return err
	}
	if o.State != "" && !contains(wf.States, o.State) {
		return usagef("--state %q is not a state of the workflow (%s)", o.State, strings.Join(wf.States, ", "))
	}
	each := func(fn func(raw []byte, s *tasks.Summary) error) error {
		return svc.EachTask(ctx, o.State != "" || o.Label != "" || !o.JSON, fn)
	}
	if o.Mine {
		mine, err := svc.MineFilter()
		if err != nil {
			return err
		}
		each = func(fn func(raw []byte, s *tasks.Summary) error) error {
			return svc.EachTask(ctx, true, func(raw []byte, s *tasks.Summary) error {
				if !mine(s) {
					return nil
				}
				return fn(raw, s)
			})
		}
	}
	return listTasks(o.Out, each, o.State, o.Label, o.JSON)
}

// listTasks streams rows; with --json and no filter, the stored JSON rows
// are copied as they are, without decoding (each may pass a nil summary;
// rows are decoded here when needed).
func listTasks(w io.Writer, each func(func([]byte, *tasks.Summary) error) error, state, label string, asJSON bool) error {
	bw := newRows(w, asJSON, "task-summary/1")
	var own tasks.Summary // declared once: a per-row value escapes and allocates
	err := each(func(raw []byte, s *tasks.Summary) error {
		if s == nil && (state != "" || label != "" || !asJSON) {
			own = tasks.Summary{}
			if err := json.Unmarshal(raw, &own); err != nil {
				return err
			}
			s = &own
		}
		if s != nil {
			if state != "" && s.State != state {
				return nil
			}
			if label != "" && !contains(s.Labels, label) {
				return nil
			}
		}
		if asJSON {
			bw.raw(raw)
		} else {
			holder := ""
			if s.Lease != nil {
				holder = "@" + s.Lease.Holder
			}
			fmt.Fprintf(bw, "%s  %-11s %-8s %-10s %s\n", s.ID, s.State, s.Priority, holder, s.Title)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.close()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

type taskHandoffOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Dir     string // the working directory --file paths are relative to

	Task    string
	Handoff tasks.Handoff
	Files   []string // as given; made relative to the top of the working tree
}

func newCmdTaskHandoff(f *Factory, runF func(context.Context, *taskHandoffOptions) error) *cobra.Command {
	o := &taskHandoffOptions{Out: f.Out, Service: f.Service, Dir: f.Dir}
	var validation string
	c := &cobra.Command{
		Use:   "handoff <id> --summary <text> [--next <step>]... [--question <q>]... [--file <path>]...",
		Short: "Record a structured handoff for the next session and release the lease",
		Long: `Record a handoff artifact: a summary, next steps, open questions, files pinned
as path@blob, the validation status and the commits made under the task
(those whose Covenant-Task trailer names it). The artifact is checked against
its schema before it is signed. The lease is released unless --keep-lease.`,
		Example: `  $ git covenant task handoff tk-3f2a --summary "parser done, tests red" \
      --next "fix the two failing cases in parse_test.go" --question "keep v1 syntax?" \
      --file parse.go --validation failed --validation-note "2 of 40 tests fail"`,
		Args: exactArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task = args[0]
			o.Handoff.Validation.Status = validation
			return runCmd(c, o, runF, runTaskHandoff)
		},
	}
	h := &o.Handoff
	c.Flags().StringVar(&h.Summary, "summary", "", "what was done and where things stand (required)")
	c.Flags().StringArrayVar(&h.Next, "next", nil, "next step (repeatable)")
	c.Flags().StringArrayVar(&h.Questions, "question", nil, "open question (repeatable)")
	c.Flags().StringArrayVar(&o.Files, "file", nil, "file to pin as path@blob (repeatable)")
	c.Flags().StringVar(&validation, "validation", "not-run", "passed, failed or not-run")
	c.Flags().StringVar(&h.Validation.Note, "validation-note", "", "what was run and what it said")
	c.Flags().BoolVar(&h.KeepLease, "keep-lease", false, "keep holding the lease after the handoff")
	return c
}

func runTaskHandoff(ctx context.Context, o *taskHandoffOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	req := covenant.HandoffRequest{Task: o.Task, Handoff: o.Handoff}
	for _, p := range o.Files {
		rel, err := repoRelative(svc.WorkTree(), o.Dir, p)
		if err != nil {
			return err
		}
		req.Files = append(req.Files, rel)
	}
	t, err := svc.HandoffTask(ctx, req)
	if err != nil {
		return err
	}
	got := t.Handoff
	fmt.Fprintf(o.Out, "Recorded handoff %d for %s (%d next step(s), %d question(s), %d file(s), %d commit(s)).\n",
		t.Handoffs, t.ID, len(got.Next), len(got.Questions), len(got.Files), len(got.Commits))
	return nil
}

// repoRelative turns a path given on the command line into one relative to
// the top of the working tree, refusing paths outside it.
func repoRelative(top, cwd, p string) (string, error) {
	if top == "" {
		return "", covenant.ErrBare
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(cwd, p)
	}
	rel, err := filepath.Rel(top, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", usagef("--file %s is outside the repository", p)
	}
	if _, err := os.Stat(p); err != nil {
		return "", usagef("--file %s: %v", p, err)
	}
	return filepath.ToSlash(rel), nil
}

type taskResumeOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task string
	JSON bool
}

func newCmdTaskResume(f *Factory, runF func(context.Context, *taskResumeOptions) error) *cobra.Command {
	o := &taskResumeOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "resume <id> [--json]",
		Short: "Print the context pack a fresh session needs to continue a task",
		Long: `Print everything a fresh session (new machine, new clone, no chat history)
needs to continue a task, from repository state alone: the task and its
history, the latest handoff, the commits that name the task in a
Covenant-Task trailer, and what changed since the handoff (new commits, and
whether each pinned file still has the blob it had).`,
		Example: "  $ git covenant task resume tk-3f2a\n  $ git covenant task resume tk-3f2a --json > context.json",
		Args:    exactArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task = args[0]
			return runCmd(c, o, runF, runTaskResume)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the context pack as JSON")
	return c
}

func runTaskResume(ctx context.Context, o *taskResumeOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	p, err := svc.Resume(ctx, o.Task)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, p)
	}
	printPack(o.Out, p)
	return nil
}

type taskDoneOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task string
	JSON bool
}

func newCmdTaskDone(f *Factory, runF func(context.Context, *taskDoneOptions) error) *cobra.Command {
	o := &taskDoneOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "done <id>",
		Short:   "Move a task to the workflow's success state (integrated by default)",
		Example: "  $ git covenant task done tk-3f2a",
		Args:    exactArgs(1, "one task <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task = args[0]
			return runCmd(c, o, runF, runTaskDone)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskDone(ctx context.Context, o *taskDoneOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.MoveTask(ctx, covenant.MoveRequest{Task: o.Task})
	if err != nil {
		return err
	}
	return printTaskResult(o.Out, o.JSON, t, fmt.Sprintf("%s is now %s.", t.ID, t.State))
}

// printTaskResult prints what a write on a task returned: the task as
// JSON, or one line saying what happened.
func printTaskResult(w io.Writer, asJSON bool, t *tasks.Task, msg string) error {
	if asJSON {
		return printJSON(w, t)
	}
	_, err := fmt.Fprintln(w, msg)
	return err
}
