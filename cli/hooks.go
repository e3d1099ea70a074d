package cli

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/git-covenant/git-covenant/hooks"
	"github.com/spf13/cobra"
)

// hooksDir asks git where hooks live, honouring core.hooksPath and worktrees.
func hooksDir(dir string) (string, error) {
	cmd := exec.Command("git", "rev-parse", "--git-path", "hooks")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git rev-parse --git-path hooks: %v", err)
	}
	p := strings.TrimSpace(string(out))
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p, nil
}

// repoHooksDir finds the hooks directory of the repository f works in.
func repoHooksDir(f *Factory) (string, error) {
	r, err := f.Repo()
	if err != nil {
		return "", err
	}
	base := r.Store.WorkTree
	if base == "" {
		base = r.Store.GitDir
	}
	return hooksDir(base)
}

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
			dir, err := repoHooksDir(f)
			if err != nil {
				return err
			}
			res, err := hooks.Install(dir, force)
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
			dir, err := repoHooksDir(f)
			if err != nil {
				return err
			}
			res, err := hooks.Uninstall(dir)
			if err != nil {
				return err
			}
			return printHookResults(f, res, asJSON)
		},
	}
	uninstall.Flags().BoolVar(&asJSON, "json", false, "print what was done as JSON")
	c.AddCommand(install, uninstall)
	return c
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
