package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/hooks"
	"github.com/spf13/cobra"
)

func newCmdHooks(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "hooks <command>",
		Short: "Install or remove git-covenant's git hooks",
		Long: `Install or remove git-covenant's git hooks. The prepare-commit-msg hook adds
Covenant-Task and Covenant-Lease trailers for the task started in this
working tree. The pre-push hook verifies the provenance of the commits
being pushed (git covenant verify --stdin --ref <remote ref>, so the
[provenance] policy decides; GIT_COVENANT_REQUIRE_PROVENANCE=1 requires it
for every ref) and refuses the push listing each failing commit. An
existing hook is kept and chained to (moved to
<hook>.covenant-chained), never overwritten unless --force; uninstall puts
it back. core.hooksPath and worktrees are honoured.`,
	}
	c.AddCommand(newCmdHooksInstall(f, nil), newCmdHooksUninstall(f, nil), newCmdHooksPrePush(f, nil))
	return c
}

type hooksInstallOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Force bool
	JSON  bool
}

func newCmdHooksInstall(f *Factory, runF func(context.Context, *hooksInstallOptions) error) *cobra.Command {
	o := &hooksInstallOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "install [--force]",
		Short:   "Install the hooks",
		Example: "  $ git covenant hooks install",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runHooksInstall) },
	}
	c.Flags().BoolVar(&o.Force, "force", false, "replace a hook that git-covenant did not install")
	c.Flags().BoolVar(&o.JSON, "json", false, "print what was done as JSON")
	return c
}

func runHooksInstall(ctx context.Context, o *hooksInstallOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	res, err := svc.InstallHooks(ctx, o.Force)
	if err != nil {
		return err
	}
	return printHookResults(o.Out, res, o.JSON)
}

type hooksUninstallOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdHooksUninstall(f *Factory, runF func(context.Context, *hooksUninstallOptions) error) *cobra.Command {
	o := &hooksUninstallOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the hooks and restore the ones they chained to",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runHooksUninstall) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print what was done as JSON")
	return c
}

func runHooksUninstall(ctx context.Context, o *hooksUninstallOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	res, err := svc.UninstallHooks(ctx)
	if err != nil {
		return err
	}
	return printHookResults(o.Out, res, o.JSON)
}

type hooksPrePushOptions struct {
	In      io.Reader // git's pre-push lines
	Err     io.Writer // all output: a hook's stdout is not the user's
	Service func(context.Context) (*covenant.Service, error)
	Dir     string // where the hook runs git

	Remote     string
	RequireAll bool // GIT_COVENANT_REQUIRE_PROVENANCE=1: every ref needs provenance
}

// newCmdHooksPrePush is what the installed pre-push hook runs.
func newCmdHooksPrePush(f *Factory, runF func(context.Context, *hooksPrePushOptions) error) *cobra.Command {
	o := &hooksPrePushOptions{In: f.In, Err: f.Err, Service: f.Service, Dir: f.Dir}
	return &cobra.Command{
		Use:   "pre-push <remote> [<url>]",
		Short: "Verify the commits a push makes newly reachable (run by the pre-push hook)",
		Long: `Read git's pre-push lines from stdin and verify the provenance of every
commit each update makes newly reachable: for a ref the [provenance]
policy requires (GIT_COVENANT_REQUIRE_PROVENANCE=1: every ref), every commit
not already reachable from a required ref of the remote, whatever else the
remote holds; for other refs, the commits the remote does not have yet.
Output goes to stderr; exit 10 refuses the push.`,
		Args: maxArgs(2, "<remote> [<url>]"),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s takes <remote> [<url>]", c.CommandPath())
			}
			o.Remote = args[0]
			o.RequireAll = f.Getenv("GIT_COVENANT_REQUIRE_PROVENANCE") == "1"
			return runCmd(c, o, runF, runHooksPrePush)
		},
	}
}

func runHooksPrePush(ctx context.Context, o *hooksPrePushOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	cfg, err := svc.Config()
	if err != nil {
		return err
	}
	if cfg == nil {
		return fmt.Errorf("%w: no %s", covenant.ErrNotCovenant, ".covenant/config.toml")
	}
	ups, err := hooks.ParseUpdates(o.In)
	if err != nil {
		return usagef("%v", err)
	}
	all := o.RequireAll
	protected := func(ref string) bool { return all || cfg.Provenance.RequiresProvenance(ref) }
	// git runs where the hook runs (git's environment, its
	// working directory): relative remote URLs resolve there.
	git := svc.HookGit(ctx, o.Dir)
	var remoteRefs map[string]string
	for _, u := range ups {
		if !hooks.Skipped(u) && protected(u.RemoteRef) {
			remoteRefs = hooks.RemoteRefs(git, o.Remote)
			break
		}
	}
	failed := 0
	for _, u := range ups {
		ids, err := hooks.PushCommits(git, o.Remote, u, protected, remoteRefs)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			continue
		}
		err = runProvenanceVerify(ctx, &provenanceVerifyOptions{Out: o.Err, Err: o.Err, Service: o.Service,
			Commits: ids, Ref: u.RemoteRef, Require: all, Format: "text", QuietSource: true})
		var vf verifyFailed
		switch {
		case errors.As(err, &vf):
			fmt.Fprintf(o.Err, "git-covenant: push of %s to %s refused: commits above lack valid provenance\n", u.LocalRef, u.RemoteRef)
			fmt.Fprintln(o.Err, "git-covenant: hint: git covenant provenance record <commit> -- <validation command>")
			failed += vf.n
		case err != nil:
			return err
		}
	}
	if failed > 0 {
		return verifyFailed{failed}
	}
	return nil
}

func printHookResults(w io.Writer, res []hooks.Result, asJSON bool) error {
	if asJSON {
		return printJSON(w, res)
	}
	for _, r := range res {
		line := fmt.Sprintf("%s: %s (%s)", r.Hook, r.Action, r.Path)
		if r.Chained != "" {
			line += "; the previous hook runs first from " + r.Chained
		}
		fmt.Fprintln(w, line)
	}
	return nil
}
