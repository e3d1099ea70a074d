package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/spf13/cobra"
)

type taskAcceptOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task    string
	Commits []string
	Reason  string
	JSON    bool
}

func newCmdTaskAccept(f *Factory, runF func(context.Context, *taskAcceptOptions) error) *cobra.Command {
	o := &taskAcceptOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "accept <id> <commit>... --reason <text>",
		Short: "Accept code commits no op of their lease holder names",
		Long: `Accept code commits that carry the task's lease trailers but that no op of
the lease holder, made while the lease was live, names (a handoff's commits
or head, a check's head): verify reports those as stale-lease-commit. The
acceptance is a signed op, so a finding about commits on a shared branch is
resolved without rewriting history. Only an identity that never held the
task's lease (or a trust root) may accept; commits are full ids.`,
		Example: "  $ git covenant task accept tk-3f2a 5b4e09a15ab7ae0f094780c8ff570a3e5b4e09a1 --reason \"reviewed: same change as the handoff\"",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("%s takes <id> and at least one <commit> (got %d argument(s))", c.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.Task, o.Commits = args[0], args[1:]
			return runCmd(c, o, runF, runTaskAccept)
		},
	}
	c.Flags().StringVar(&o.Reason, "reason", "", "why the commits are accepted (required)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskAccept(ctx context.Context, o *taskAcceptOptions) error {
	if o.Reason == "" {
		return usagef("--reason is required")
	}
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.AcceptCommits(ctx, o.Task, o.Commits, o.Reason)
	if err != nil {
		return err
	}
	return printTaskResult(o.Out, o.JSON, t, fmt.Sprintf("Accepted %d commit(s) on %s.", len(o.Commits), t.ID))
}
