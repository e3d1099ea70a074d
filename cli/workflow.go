package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/hooks"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/spf13/cobra"
)

// taskCmd builds a command that writes one op on a task and reports it.
func taskCmd(f *Factory, use, short, long, example string, nargs int, argNames string,
	run func(ctx context.Context, svc *covenant.Service, args []string) (*tasks.Task, string, error), flags func(c *cobra.Command)) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Args: exactArgs(nargs, argNames),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			t, msg, err := run(c.Context(), svc, args)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(t)
			}
			fmt.Fprintln(f.Out, msg)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the task as JSON")
	if flags != nil {
		flags(c)
	}
	return c
}

func newCmdTaskReady(f *Factory) *cobra.Command {
	var label string
	var asJSON bool
	c := &cobra.Command{
		Use:   "ready [--label <l>] [--json]",
		Short: "List tasks ready to be claimed: unleased, claimable, all blockers finished",
		Long: `List the ready queue: tasks in a claimable state with no active lease whose
blockers ('task link <a> blocks <b>') are all finished; highest priority
first, then oldest. 'task start' with no id claims the first of them.`,
		Example: "  $ git covenant task ready\n  $ git covenant task ready --label backend --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			each := func(fn func([]byte, *tasks.Summary) error) error {
				return svc.Ready(c.Context(), label, func(raw []byte) error { return fn(raw, nil) })
			}
			return listTasks(f.Out, each, "", "", asJSON)
		},
	}
	c.Flags().StringVar(&label, "label", "", "only tasks with this label")
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array ([] when empty)")
	return c
}

func newCmdTaskMove(f *Factory) *cobra.Command {
	var note string
	return taskCmd(f, "move <id> <state> [--note <text>]", "Move a task to another state of the workflow",
		`Move a task along the workflow ('git covenant workflow show'). Illegal moves
are refused naming the allowed ones; moves guarded by gates are refused
naming what is missing; while someone holds the task's lease only they may
move it.`,
		"  $ git covenant task move tk-3f2a self_review --note \"tests green locally\"", 2, "<id> and <state>",
		func(ctx context.Context, svc *covenant.Service, args []string) (*tasks.Task, string, error) {
			t, err := svc.MoveTask(ctx, covenant.MoveRequest{Task: args[0], To: args[1], Note: note})
			if err != nil {
				return nil, "", err
			}
			return t, fmt.Sprintf("%s is now %s.", t.ID, t.State), nil
		},
		func(c *cobra.Command) { c.Flags().StringVar(&note, "note", "", "why") })
}

func newCmdTaskHeartbeat(f *Factory) *cobra.Command {
	var ttl string
	return taskCmd(f, "heartbeat <id> [--ttl <duration>]", "Extend your lease on a task",
		"Extend the lease you hold on a task to now + ttl, keeping its epoch.",
		"  $ git covenant task heartbeat tk-3f2a --ttl 30m", 1, "one task <id>",
		func(ctx context.Context, svc *covenant.Service, args []string) (*tasks.Task, string, error) {
			d, err := time.ParseDuration(ttl)
			if err != nil {
				return nil, "", usagef("--ttl %q is not a duration (try 30m, 2h or 1h30m)", ttl)
			}
			t, err := svc.Heartbeat(ctx, covenant.LeaseRequest{Task: args[0], TTL: d})
			if err != nil {
				return nil, "", err
			}
			return t, fmt.Sprintf("Lease on %s (epoch %d) extended until %s.", t.ID, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339)), nil
		},
		func(c *cobra.Command) {
			c.Flags().StringVar(&ttl, "ttl", covenant.DefaultTTL.String(), "new lease length from now")
		})
}

func newCmdTaskRelease(f *Factory) *cobra.Command {
	return taskCmd(f, "release <id>", "Give back your lease on a task", "", "  $ git covenant task release tk-3f2a", 1, "one task <id>",
		func(ctx context.Context, svc *covenant.Service, args []string) (*tasks.Task, string, error) {
			t, err := svc.Release(ctx, args[0])
			if err != nil {
				return nil, "", err
			}
			return t, fmt.Sprintf("Released %s.", t.ID), nil
		}, nil)
}

func newCmdTaskLink(f *Factory) *cobra.Command {
	c := taskCmd(f, "link <id> {blocks | parent-of | relates-to | discovered-from} <other>", "Link two tasks",
		`Record a typed link from one task to another. 'a blocks b' keeps b out of the
ready queue until a is finished; cycles of blocks (or parent-of) links are
refused.`,
		"  $ git covenant task link tk-3f2a blocks tk-9c1d\n  $ git covenant task link tk-77aa discovered-from tk-3f2a", 3, "<id>, a link kind and <other>",
		func(ctx context.Context, svc *covenant.Service, args []string) (*tasks.Task, string, error) {
			t, err := svc.LinkTasks(ctx, covenant.LinkRequest{Task: args[0], Kind: args[1], Other: args[2]})
			if err != nil {
				return nil, "", err
			}
			l := t.Links[len(t.Links)-1]
			return t, fmt.Sprintf("%s %s %s.", t.ID, l.Kind, l.Task), nil
		}, nil)
	return c
}

func newCmdTaskReview(f *Factory) *cobra.Command {
	var gate, note string
	return taskCmd(f, "review <id> --gate <g> {approve | reject} --note <text>", "Approve or reject an approval gate",
		`Record a review verdict for an approval gate (e.g. review.code). The gate is
satisfied while the latest verdict is approve; independent gates do not
count approvals by anyone who held a lease on the task.`,
		"  $ git covenant task review tk-3f2a --gate review.code approve --note \"LGTM\"", 2, "<id> and approve or reject",
		func(ctx context.Context, svc *covenant.Service, args []string) (*tasks.Task, string, error) {
			if gate == "" || strings.TrimSpace(note) == "" {
				return nil, "", usagef("--gate and --note are required")
			}
			t, err := svc.Review(ctx, covenant.ReviewRequest{Task: args[0], Gate: gate, Verdict: args[1], Note: note})
			if err != nil {
				return nil, "", err
			}
			rec := t.Gates[gate]
			msg := fmt.Sprintf("Recorded %s %s on %s.", gate, args[1], t.ID)
			if rec != nil && !rec.Satisfied && rec.Reason != "" {
				msg += " It does not satisfy the gate: " + rec.Reason + "."
			}
			return t, msg, nil
		},
		func(c *cobra.Command) {
			c.Flags().StringVar(&gate, "gate", "", "approval gate name (required)")
			c.Flags().StringVar(&note, "note", "", "what you checked (required)")
		})
}

func newCmdTaskCheck(f *Factory) *cobra.Command {
	var gate string
	var asJSON bool
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
			if gate == "" {
				return usagef("--gate is required")
			}
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			run, err := svc.RunCheck(c.Context(), covenant.RunCheckRequest{Task: args[0], Gate: gate, Argv: args[1:], Dir: f.Dir})
			if err != nil {
				return err
			}
			t, code, dur := run.Task, run.ExitCode, run.Duration
			if asJSON {
				return f.printJSON(t.Gates[gate])
			}
			result := "passed"
			if code != 0 {
				result = fmt.Sprintf("failed (exit %d)", code)
			}
			fmt.Fprintf(f.Out, "%s %s in %s; recorded as %s evidence on %s.\n", strings.Join(args[1:], " "), result, dur.Round(time.Millisecond), gate, t.ID)
			return nil
		},
	}
	c.Flags().StringVar(&gate, "gate", "", "check gate name (required)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the gate record as JSON")
	return c
}

func newCmdTaskEscalate(f *Factory) *cobra.Command {
	var kind, reason string
	return taskCmd(f, "escalate <id> --kind {credentials | destructive | production | decision} --reason <text>",
		"Ask a human: move the task to escalated with what is needed",
		`Move a task to escalated, recording what a human must provide or decide.
'git covenant task list --state escalated' is the human's inbox; only a human
identity can 'task resolve' it, which returns it to its previous state.`,
		"  $ git covenant task escalate tk-3f2a --kind production --reason \"needs a prod DB migration\"", 1, "one task <id>",
		func(ctx context.Context, svc *covenant.Service, args []string) (*tasks.Task, string, error) {
			t, err := svc.Escalate(ctx, covenant.EscalateRequest{Task: args[0], Kind: kind, Reason: reason})
			if err != nil {
				return nil, "", err
			}
			return t, fmt.Sprintf("%s escalated (%s); a human resolves it with: git covenant task resolve %s --decision <text>", t.ID, kind, t.ID), nil
		},
		func(c *cobra.Command) {
			c.Flags().StringVar(&kind, "kind", "", "credentials, destructive, production or decision (required)")
			c.Flags().StringVar(&reason, "reason", "", "what is needed (required)")
		})
}

func newCmdTaskResolve(f *Factory) *cobra.Command {
	var decision string
	return taskCmd(f, "resolve <id> --decision <text>", "Resolve an escalation (human identities only)",
		"Record a human's decision on an escalated task and return it to the state it was escalated from.",
		"  $ git covenant task resolve tk-3f2a --decision \"approved, run it Tuesday\"", 1, "one task <id>",
		func(ctx context.Context, svc *covenant.Service, args []string) (*tasks.Task, string, error) {
			t, err := svc.Resolve(ctx, args[0], decision)
			if err != nil {
				return nil, "", err
			}
			return t, fmt.Sprintf("Resolved %s; it is %s again.", t.ID, t.State), nil
		},
		func(c *cobra.Command) { c.Flags().StringVar(&decision, "decision", "", "the decision (required)") })
}

func newCmdTaskComment(f *Factory) *cobra.Command {
	return taskCmd(f, "comment <id> <text>", "Add a comment to a task", "", "  $ git covenant task comment tk-3f2a \"flaky on arm64 only\"", 2, "<id> and <text>",
		func(ctx context.Context, svc *covenant.Service, args []string) (*tasks.Task, string, error) {
			t, err := svc.Comment(ctx, args[0], args[1])
			if err != nil {
				return nil, "", err
			}
			return t, fmt.Sprintf("Commented on %s.", t.ID), nil
		}, nil)
}

func newCmdTaskTrailers(f *Factory) *cobra.Command {
	var hookFile string
	var auto bool
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
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			if hookFile != "" {
				return hookTrailers(c.Context(), f, svc, hookFile)
			}
			id := ""
			if len(args) == 1 {
				id = args[0]
			} else {
				cur, err := svc.CurrentTask()
				if err != nil {
					return err
				}
				if cur == nil {
					return usagef("no task started in this working tree; name one")
				}
				id = cur.Task
			}
			if auto {
				t, err := svc.OptInTrailers(c.Context(), id)
				if err != nil {
					return err
				}
				fmt.Fprintf(f.Err, "Commits in this working tree now get the trailers of %s while you hold its lease.\n", t.ID)
			}
			tr, err := svc.Trailers(c.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintln(f.Out, strings.Join(tr, "\n"))
			return nil
		},
	}
	c.Flags().StringVar(&hookFile, "hook", "", "add to this commit message file (the prepare-commit-msg hook)")
	c.Flags().BoolVar(&auto, "auto", false, "opt in: stamp every commit in this working tree with the task's trailers")
	return c
}

// hookTrailers is the prepare-commit-msg hook's work: never an error
// that fails the commit, never a trailer for a lease not held now or a
// task the commit does not name (unless opted in).
func hookTrailers(ctx context.Context, f *Factory, svc *covenant.Service, file string) error {
	git := svc.HookGit(ctx, f.Dir)
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
	var asJSON bool
	show := &cobra.Command{
		Use:   "show [--json]",
		Short: "Print the active workflow: states, transitions, gates",
		Long: `Print the active workflow: the [workflow] table of .covenant/config.toml, or
the default lifecycle when there is none.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			wf, err := svc.Workflow()
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(wf)
			}
			fmt.Fprintf(f.Out, "states:   %s\ninitial:  %s\nfinal:    %s\nclaim:    from %s, to %s\n",
				strings.Join(wf.States, ", "), wf.Initial, strings.Join(wf.Final, ", "), strings.Join(wf.ClaimFrom, ", "), wf.ClaimTo)
			if wf.Escalated != "" {
				fmt.Fprintf(f.Out, "escalate: to %s (task escalate / task resolve)\n", wf.Escalated)
			}
			fmt.Fprintln(f.Out, "\ntransitions:")
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
					fmt.Fprintf(f.Out, "  %-13s -> %-13s%s\n", s, t.To, extra)
				}
			}
			fmt.Fprintln(f.Out, "\ngates:")
			for _, g := range wf.Gates {
				extra := ""
				if g.Independent {
					extra = " (not by anyone who held the lease)"
				}
				fmt.Fprintf(f.Out, "  %-13s %s%s\n", g.Name, g.Kind, extra)
			}
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print the workflow as JSON")
	c.AddCommand(show)
	return c
}
