package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/doctor"
	"github.com/spf13/cobra"
)

type doctorOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Dir     string
	Env     []string

	JSON bool
}

func newCmdDoctor(f *Factory, runF func(context.Context, *doctorOptions) error) *cobra.Command {
	o := &doctorOptions{Out: f.Out, Service: f.Service, Dir: f.Dir, Env: f.Env}
	c := &cobra.Command{
		Use:   "doctor [--json]",
		Short: "Check the set-up: git, keys, identity, trust root, remotes, hooks, index, daemon, sandbox",
		Long: `Check the set-up and say, for each problem, the command that fixes it:
git's version; the keystore and the permissions of its key files; whether
the acting identity is registered (and not revoked) in this repository;
the trust root and its feed; each remote's covenant refspecs; the hooks
(the pre-push hook is required when provenance is); the index (intact,
and how far behind the feeds it is); which git maintenance is safe while
git-covenant writes; ssh-keygen; the daemon; the sandbox backends this
host offers agents. Doctor writes nothing (its reads rebuild a damaged
index, as every command's do, after reporting it).

Exit status 0 when nothing failed (warnings allowed), 10 when a check
failed, 3 is never used: outside a repository doctor reports that as a
failed check.`,
		Example: "  $ git covenant doctor\n  $ git covenant doctor --json | jq '.checks[] | select(.status != \"ok\")'",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runDoctor) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the checks as JSON (schema doctor/1)")
	return c
}

func runDoctor(ctx context.Context, o *doctorOptions) error {
	rep := doctor.Run(ctx, doctor.Env{Dir: o.Dir, Env: o.Env, Open: o.Service})
	failed := 0
	for _, c := range rep.Checks {
		if c.Status == covenant.CheckFail {
			failed++
		}
	}
	if o.JSON {
		if err := printJSON(o.Out, rep); err != nil {
			return err
		}
	} else {
		for _, c := range rep.Checks {
			fmt.Fprintf(o.Out, "%-4s  %-11s %s\n", c.Status, c.Name, c.Detail)
			if c.Fix != "" && c.Status != covenant.CheckOK {
				fmt.Fprintf(o.Out, "      %-11s fix: %s\n", "", c.Fix)
			}
		}
		if failed == 0 {
			fmt.Fprintln(o.Out, "no problems found")
		} else {
			fmt.Fprintf(o.Out, "%d problem(s) found\n", failed)
		}
	}
	if failed > 0 {
		return verifyFailed{failed}
	}
	return nil
}
