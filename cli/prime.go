package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/spf13/cobra"
)

type primeOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Ready int
	JSON  bool
}

func newCmdPrime(f *Factory, runF func(context.Context, *primeOptions) error) *cobra.Command {
	o := &primeOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "prime [--ready <n>] [--json]",
		Short: "Print what an agent needs to start working here, in one short read",
		Long: `Print a primer for the acting identity (--as, $GIT_COVENANT_AS): who it is
and what it may do, the workflow and its gates, how to claim, heartbeat,
commit with trailers, hand off and resume, the tasks whose lease it holds
and the top of the ready queue it may claim. It is short by design (under
1,500 tokens for this repository's default workflow); 'task resume <id>'
gives the whole context of one task.`,
		Example: "  $ git covenant prime\n  $ git covenant --as builder-1 prime --json",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runPrime) },
	}
	c.Flags().IntVar(&o.Ready, "ready", 5, "how many ready tasks to list")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the primer as JSON")
	return c
}

func runPrime(ctx context.Context, o *primeOptions) error {
	if o.Ready < 1 || o.Ready > 100 {
		return usagef("--ready %d: give 1 to 100", o.Ready)
	}
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	p, err := svc.Prime(ctx, covenant.PrimeRequest{Ready: o.Ready})
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, p)
	}
	printPrimer(o.Out, p)
	return nil
}

func printPrimer(w io.Writer, p *covenant.Primer) {
	fmt.Fprintln(w, "# git-covenant primer")
	if id := p.Identity; id == nil {
		fmt.Fprintln(w, "\nYou have no identity here yet.")
	} else {
		fmt.Fprintf(w, "\nYou are %s (%s, key %s).", id.Name, id.Role, id.KeyID)
		switch {
		case id.Root:
			fmt.Fprintln(w, " A trust root: every scope.")
		case !id.Trusted:
			fmt.Fprintln(w, " Not registered (or retired): you can read but not write.")
		case len(id.Grants) == 0:
			fmt.Fprintln(w, " Registered, with no usable grant.")
		default:
			fmt.Fprintln(w, " Your grants:")
			for _, g := range id.Grants {
				fmt.Fprintf(w, "  %s: %s", g.ID, strings.Join(g.Scopes, " "))
				if len(g.Labels) > 0 {
					fmt.Fprintf(w, " (labels %s)", strings.Join(g.Labels, ", "))
				}
				if g.ExpiresAt != nil {
					fmt.Fprintf(w, " until %s", g.ExpiresAt.Format(time.RFC3339))
				}
				if g.UsesLeft > 0 {
					fmt.Fprintf(w, ", %d uses left", g.UsesLeft)
				}
				fmt.Fprintln(w)
			}
		}
	}
	wf := p.Workflow
	fmt.Fprintf(w, "\nWorkflow: states %s; claimable in %s; final %s.\n", strings.Join(wf.States, ", "), strings.Join(wf.ClaimFrom, ", "), strings.Join(wf.Final, ", "))
	for _, t := range wf.Transitions {
		fmt.Fprintf(w, "  %s\n", t)
	}
	for _, g := range wf.Gates {
		fmt.Fprintf(w, "Gate %s: %s", g.Name, g.Kind)
		if g.Independent {
			fmt.Fprint(w, ", by someone who never held the task's lease")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\nHow to work:")
	for _, s := range p.Steps {
		fmt.Fprintf(w, "- %s:\n    %s\n", s.Do, s.Run)
	}
	fmt.Fprintln(w, "\nYour leased tasks:")
	if len(p.Leased) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, t := range p.Leased {
		fmt.Fprintf(w, "  %s  %-11s epoch %d until %s  %s\n", t.ID, t.State, t.Epoch, t.ExpiresAt.Format(time.RFC3339), t.Title)
	}
	fmt.Fprintln(w, "\nReady for you (task start <id>):")
	if len(p.Ready) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, t := range p.Ready {
		fmt.Fprintf(w, "  %s  %-8s %s\n", t.ID, t.Priority, t.Title)
	}
	if p.More {
		fmt.Fprintln(w, "  … more: git covenant task ready")
	}
	printMemories(w, p.Memories)
}

type taskAnswerOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Answer covenant.AnswerRequest
	JSON   bool
}

func newCmdTaskAnswer(f *Factory, runF func(context.Context, *taskAnswerOptions) error) *cobra.Command {
	o := &taskAnswerOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "answer <id> <question> <answer>",
		Short: "Answer an open question of a task",
		Long: `Answer a question a handoff asked. Questions stay open, across later
handoffs, until answered; 'task resume' lists them by number. Name the
question by its number or its exact wording. Anyone who may comment on the
task may answer.`,
		Example: "  $ git covenant task answer tk-3f2a 1 \"yes, keep the retry\"",
		Args:    exactArgs(3, "<id>, <question> (its number) and <answer>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Answer = covenant.AnswerRequest{Task: args[0], Question: args[1], Answer: args[2]}
			return runCmd(c, o, runF, runTaskAnswer)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the task as JSON")
	return c
}

func runTaskAnswer(ctx context.Context, o *taskAnswerOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.Answer(ctx, o.Answer)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, t)
	}
	fmt.Fprintf(o.Out, "Answered; %s has %d open question(s).\n", t.ID, len(t.OpenQuestions()))
	return nil
}
