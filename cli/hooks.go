package cli

import (
	"errors"
	"fmt"

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
	var force, asJSON bool
	install := &cobra.Command{
		Use:     "install [--force]",
		Short:   "Install the hooks",
		Example: "  $ git covenant hooks install",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			res, err := svc.InstallHooks(c.Context(), force)
			if err != nil {
				return err
			}
			return printHookResults(f, res, asJSON)
		},
	}
	install.Flags().BoolVar(&force, "force", false, "replace a hook that git-covenant did not install")
	install.Flags().BoolVar(&asJSON, "json", false, "print what was done as JSON")
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the hooks and restore the ones they chained to",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			res, err := svc.UninstallHooks(c.Context())
			if err != nil {
				return err
			}
			return printHookResults(f, res, asJSON)
		},
	}
	uninstall.Flags().BoolVar(&asJSON, "json", false, "print what was done as JSON")
	c.AddCommand(install, uninstall, newCmdHooksPrePush(f))
	return c
}

// newCmdHooksPrePush is what the installed pre-push hook runs.
func newCmdHooksPrePush(f *Factory) *cobra.Command {
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
			svc, err := f.Service(c.Context())
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
			ups, err := hooks.ParseUpdates(f.In)
			if err != nil {
				return usagef("%v", err)
			}
			all := f.Getenv("GIT_COVENANT_REQUIRE_PROVENANCE") == "1"
			protected := func(ref string) bool { return all || cfg.Provenance.RequiresProvenance(ref) }
			// git runs where the hook runs (git's environment, its
			// working directory): relative remote URLs resolve there.
			git := svc.HookGit(c.Context(), f.Dir)
			var remoteRefs map[string]string
			for _, u := range ups {
				if !hooks.Skipped(u) && protected(u.RemoteRef) {
					remoteRefs = hooks.RemoteRefs(git, args[0])
					break
				}
			}
			failed := 0
			errOnly := *f
			errOnly.Out = f.Err
			for _, u := range ups {
				ids, err := hooks.PushCommits(git, args[0], u, protected, remoteRefs)
				if err != nil {
					return err
				}
				if len(ids) == 0 {
					continue
				}
				err = runProvenanceVerify(c.Context(), &errOnly, provenanceVerify{commits: ids, ref: u.RemoteRef, require: all, format: "text", quietSource: true})
				var vf verifyFailed
				switch {
				case errors.As(err, &vf):
					fmt.Fprintf(f.Err, "git-covenant: push of %s to %s refused: commits above lack valid provenance\n", u.LocalRef, u.RemoteRef)
					fmt.Fprintln(f.Err, "git-covenant: hint: git covenant provenance record <commit> -- <validation command>")
					failed += vf.n
				case err != nil:
					return err
				}
			}
			if failed > 0 {
				return verifyFailed{failed}
			}
			return nil
		},
	}
}

func printHookResults(f *Factory, res []hooks.Result, asJSON bool) error {
	if asJSON {
		return f.printJSON(res)
	}
	for _, r := range res {
		line := fmt.Sprintf("%s: %s (%s)", r.Hook, r.Action, r.Path)
		if r.Chained != "" {
			line += "; the previous hook runs first from " + r.Chained
		}
		fmt.Fprintln(f.Out, line)
	}
	return nil
}
