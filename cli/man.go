package cli

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newCmdGenMan writes man pages, so that `git covenant --help` (which git
// turns into `man git-covenant`) works once they are installed.
func newCmdGenMan(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man <dir>",
		Short:  "Write man pages for every command into a directory",
		Hidden: true,
		Args:   exactArgs(1, "one <dir>"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			root.Use = "git-covenant"
			root.DisableAutoGenTag = true
			return doc.GenManTree(root, &doc.GenManHeader{Title: "GIT-COVENANT", Section: "1", Source: "git-covenant " + Version}, args[0])
		},
	}
}
